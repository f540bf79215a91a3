"""Applications on top of the pipeline: multi-turn chat, its conversation store, the writer."""
