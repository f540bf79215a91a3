"""The labelled splits the fusion experiments choose on (train) and report on (test).

Cranfield has no train split: it only ever shows how a choice carries to unseen data.
"""

from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TRAIN = [("scifact", "train"), ("pubmedqa_pqal", "train")]
TEST = [("scifact", "test"), ("pubmedqa_pqal", "test"), ("cranfield", "test")]
SETS = TRAIN + TEST
