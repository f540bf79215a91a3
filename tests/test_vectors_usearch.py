"""The usearch vector index: exact numpy search for small indexes, memory-mapped opening."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ragfusion.stores import cosine, vectors_usearch
from ragfusion.stores.vectors_usearch import UsearchVectors

DIM = 16


def _vectors(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)


def _saved(path: Path, n: int) -> UsearchVectors:
    index = UsearchVectors(path, DIM)
    index.add(list(range(1, n + 1)), _vectors(n))
    index.save()
    return index


@pytest.mark.parametrize("block_macs", [1_000, 10**9])  # many small blocks, or one
def test_exact_search_matches_brute_force_cosine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block_macs: int
) -> None:
    monkeypatch.setattr(cosine, "BLAS_SINGLE_THREAD_MACS", block_macs)
    # Stored vectors are not unit length: scores must still be cosines.
    stored = _vectors(300) * np.linspace(0.5, 3.0, 300, dtype=np.float32)[:, None]
    index = UsearchVectors(tmp_path / "v.usearch", DIM)
    index.add(list(range(1, 301)), stored)
    queries = _vectors(3, seed=1) * 7.0
    got = index.search(queries, 10)
    unit = stored / np.linalg.norm(stored, axis=1, keepdims=True)
    expected = (queries / np.linalg.norm(queries, axis=1, keepdims=True)) @ unit.T
    for row, scores in zip(got, expected, strict=True):
        best = np.argsort(-scores)[:10]
        assert [key for key, _ in row] == [int(i) + 1 for i in best]
        assert [s for _, s in row] == pytest.approx([float(scores[i]) for i in best], abs=1e-5)


def test_exact_and_hnsw_paths_find_the_same_stored_vector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fewer vectors than the search expansion (96): the graph walk is exhaustive, not flaky.
    index = _saved(tmp_path / "v.usearch", 80)
    queries = _vectors(80)[10:14]  # stored as keys 11..14: each is its own nearest neighbour
    exact = index.search(queries, 3)
    monkeypatch.setattr(vectors_usearch, "EXACT_SEARCH_BELOW", 0)
    graph = index.search(queries, 3)
    for rows in (exact, graph):
        assert [row[0][0] for row in rows] == [11, 12, 13, 14]
        assert all(row[0][1] == pytest.approx(1.0, abs=1e-5) for row in rows)


def test_reopened_index_is_a_view_that_still_accepts_writes(tmp_path: Path) -> None:
    path = tmp_path / "v.usearch"
    _saved(path, 50)
    reopened = UsearchVectors(path, DIM)
    assert reopened._view  # memory-mapped, not read into memory
    assert len(reopened) == 50
    # Writing to a view would crash usearch; the index must switch to a copy first.
    reopened.remove([1, 2])
    reopened.add([1000], _vectors(1, seed=3))
    assert not reopened._view
    reopened.save()
    again = UsearchVectors(path, DIM)
    assert len(again) == 49
    stored = again.keys()
    assert 1000 in stored and 1 not in stored
    top_key, score = again.search(_vectors(1, seed=3), 1)[0][0]
    assert top_key == 1000 and score == pytest.approx(1.0, abs=1e-5)


def test_exact_cache_follows_writes(tmp_path: Path) -> None:
    index = _saved(tmp_path / "v.usearch", 20)
    probe = _vectors(1, seed=9)
    assert index.search(probe, 1)[0][0][0] != 77
    index.add([77], probe)
    assert index.search(probe, 1)[0][0][0] == 77
    index.remove([77])
    assert 77 not in [k for k, _ in index.search(probe, 20)[0]]


def test_discard_returns_to_the_saved_view(tmp_path: Path) -> None:
    path = tmp_path / "v.usearch"
    _saved(path, 10)
    index = UsearchVectors(path, DIM)
    index.add([500], _vectors(1, seed=5))
    index.discard()
    stored = index.keys()
    assert index._view and len(index) == 10 and 500 not in stored


def test_staged_adds_are_seen_by_every_read_and_survive_removal_order(tmp_path: Path) -> None:
    path = tmp_path / "v.usearch"
    index = UsearchVectors(path, DIM)
    vectors = _vectors(6, seed=11)
    index.add([1, 2, 3], vectors[:3])
    assert len(index) == 3  # reads flush the staged vectors first
    index.add([4], vectors[3:4])
    index.remove([4])  # staged, then removed before any read
    index.add([2], vectors[4:5])  # replaces a stored vector
    index.remove([3])
    index.add([3], vectors[5:6])  # removed, then added again
    assert index.keys() == {1, 2, 3}
    assert index.search(vectors[4:5], 1)[0][0][0] == 2
    assert index.search(vectors[5:6], 1)[0][0][0] == 3
    index.save()
    again = UsearchVectors(path, DIM)
    assert again.keys() == {1, 2, 3}
    assert again.search(vectors[4:5], 1)[0][0] == (2, pytest.approx(1.0, abs=1e-5))


def test_discard_drops_staged_adds(tmp_path: Path) -> None:
    path = tmp_path / "v.usearch"
    _saved(path, 5)
    index = UsearchVectors(path, DIM)
    index.add([99], _vectors(1, seed=4))
    index.discard()
    stored = index.keys()
    assert 99 not in stored and len(index) == 5


def test_staging_is_flushed_in_bounded_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vectors_usearch, "_STAGE_LIMIT", 3)
    index = UsearchVectors(tmp_path / "v.usearch", DIM)
    vectors = _vectors(7, seed=21)
    for key in range(7):
        index.add([key + 1], vectors[key : key + 1])
        assert len(index._staged) < 3
    assert index.keys() == set(range(1, 8))
    assert [row[0][0] for row in index.search(vectors, 1)] == list(range(1, 8))
