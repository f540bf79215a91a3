"""Retrieval evaluation on BEIR-format collections: ``ragfusion eval`` and ``ragfusion tune``."""
