"""Answering: guard the passages, read or generate the answer, check it, cite exact spans."""
