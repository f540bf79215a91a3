"""The ONNX Runtime embedder: cache reuse, rebuild of a bad cache, verification, fallback.

Logic tests run a tiny real ONNX model (an embedding-table lookup built with ``onnx``) and a
tiny real tokenizer through the real cache, session and pooling code; only the exporter is a
fake. The test against torch uses the bundled MiniLM and is marked ``models``.
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import HashEmbedder

from ragfusion.embedders import BACKEND_ENV, make_embedder
from ragfusion.embedders.base import Vectors, normalise_rows
from ragfusion.embedders.onnx_cache import cache_key
from ragfusion.embedders.onnx_runtime import (
    META_FILE,
    MODEL_FILE,
    OnnxEmbedder,
    load_encoder,
    mean_pool,
)
from ragfusion.errors import ConfigError, ModelError

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

DIM = 8
MAX_TOKENS = 16
WORDS = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "hepa",
    "filter",
    "replace",
    "every",
    "six",
    "months",
    "warranty",
    "two",
    "years",
]
TEXTS = ["Replace the HEPA filter", "warranty: two years", "filter " * 40, "x"]


def make_model_folder(root: Path) -> Path:
    """A sentence-transformers-shaped folder with a tiny word-level tokenizer."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    folder = root / "tiny-model"
    (folder / "1_Pooling").mkdir(parents=True)
    vocab = {w: i for i, w in enumerate(WORDS)}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "config.json").write_text(
        json.dumps({"model_type": "tiny", "hidden_size": DIM, "max_position_embeddings": 64})
    )
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": MAX_TOKENS}))
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": DIM, "pooling_mode_mean_tokens": True})
    )
    (folder / "model.safetensors").write_bytes(b"tiny weights v1")
    return folder


class TableExporter:
    """Exports an embedding-table lookup; its reference mean-pools the same table in numpy."""

    def __init__(self, seed: int = 0, reference_seed: int | None = None) -> None:
        self.table = np.random.default_rng(seed).normal(size=(len(WORDS), DIM))
        self.table = self.table.astype(np.float32)
        ref_seed = seed if reference_seed is None else reference_seed
        self.reference_table = np.random.default_rng(ref_seed).normal(size=(len(WORDS), DIM))
        self.exports = 0

    def export(self, model_path: Path, target: Path) -> bool:
        from onnx import TensorProto, helper, numpy_helper

        self.exports += 1
        graph = helper.make_graph(
            [helper.make_node("Gather", ["table", "input_ids"], ["last_hidden_state"])],
            "lookup",
            [
                helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["b", "s"]),
                helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["b", "s"]),
            ],
            [
                helper.make_tensor_value_info(
                    "last_hidden_state", TensorProto.FLOAT, ["b", "s", DIM]
                )
            ],
            [numpy_helper.from_array(self.table, "table")],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 9
        onnx.save(model, str(target))
        return False

    def reference(self, model_path: Path, texts: Sequence[str]) -> Vectors:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
        tokenizer.enable_truncation(MAX_TOKENS)
        rows = [self.reference_table[e.ids].mean(axis=0) for e in tokenizer.encode_batch(texts)]
        return normalise_rows(np.array(rows))


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    return make_model_folder(tmp_path)


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def only_file(cache: Path, name: str) -> Path:
    (found,) = cache.glob(f"*/{name}")
    return found


def test_mean_pool_ignores_padding() -> None:
    hidden = np.array([[[1.0, 0.0], [3.0, 2.0], [100.0, 100.0]]], dtype=np.float32)
    mask = np.array([[1, 1, 0]], dtype=np.int64)
    assert mean_pool(hidden, mask).tolist() == [[2.0, 1.0]]


def test_export_is_verified_cached_and_reused(model_dir: Path, cache: Path) -> None:
    exporter = TableExporter()
    first = OnnxEmbedder(model_dir, cache_dir=cache, exporter=exporter, strict=True)
    vectors = first.embed_documents(TEXTS)
    assert first.backend == "onnx" and first.load_info["source"] == "export"
    assert first.load_info["cosine_min"] > 0.999999
    np.testing.assert_allclose(vectors, exporter.reference(model_dir, TEXTS), atol=1e-6)
    # One sorted batch or many: padding never changes a vector.
    small = OnnxEmbedder(model_dir, cache_dir=cache, exporter=exporter, batch_size=1)
    np.testing.assert_allclose(small.embed_queries(TEXTS), vectors, atol=1e-6)
    assert small.load_info["source"] == "cache"
    assert exporter.exports == 1  # the second load did not export again
    meta = json.loads(only_file(cache, META_FILE).read_text())
    assert meta["key"] == only_file(cache, MODEL_FILE).parent.name
    assert not list(cache.glob("*/.*.tmp")), "temporary files left behind"


@pytest.mark.parametrize("damage", ["garbage", "truncated", "other-weights", "meta"])
def test_damaged_cache_is_rebuilt(model_dir: Path, cache: Path, damage: str) -> None:
    exporter = TableExporter()
    load_encoder(model_dir, root=cache, exporter=exporter)
    model_file, meta_file = only_file(cache, MODEL_FILE), only_file(cache, META_FILE)
    if damage == "garbage":
        model_file.write_bytes(b"not an onnx model")
    elif damage == "truncated":
        model_file.write_bytes(model_file.read_bytes()[:100])
    elif damage == "other-weights":  # a valid model that no longer gives the same vectors
        TableExporter(seed=1).export(model_dir, model_file)
    else:
        meta_file.write_text("{")
    encoder, info = load_encoder(model_dir, root=cache, exporter=exporter)
    assert info["source"] == "export" and exporter.exports == 2
    np.testing.assert_allclose(
        encoder.embed(TEXTS), exporter.reference(model_dir, TEXTS), atol=1e-6
    )
    assert load_encoder(model_dir, root=cache, exporter=exporter)[1]["source"] == "cache"


def test_changed_model_files_get_a_new_cache_key(model_dir: Path, cache: Path) -> None:
    before = cache_key(model_dir, cache)
    assert cache_key(model_dir, cache) == before
    (model_dir / "model.safetensors").write_bytes(b"tiny weights v2")
    assert cache_key(model_dir, cache) != before


def test_export_that_does_not_match_torch_is_refused(model_dir: Path, cache: Path) -> None:
    exporter = TableExporter(seed=0, reference_seed=1)  # "torch" disagrees with the export
    fallback = HashEmbedder(dim=DIM, name="fallback")
    embedder = OnnxEmbedder(
        model_dir, cache_dir=cache, exporter=exporter, fallback=lambda: fallback
    )
    with pytest.warns(RuntimeWarning, match="does not reproduce the torch vectors"):
        vectors = embedder.embed_queries(["replace the filter"])
    assert embedder.backend == "torch" and fallback.calls == [1]
    assert vectors.shape == (1, DIM)
    assert not list(cache.glob(f"*/{MODEL_FILE}")), "a refused export must not be cached"
    assert not list(cache.glob("*/.*.tmp"))
    strict = OnnxEmbedder(model_dir, cache_dir=cache, exporter=exporter, strict=True)
    with pytest.raises(ModelError, match="does not reproduce"):
        strict.warm_up()


def test_missing_onnxruntime_falls_back_to_torch(
    model_dir: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails
    fallback = HashEmbedder(dim=DIM)
    embedder = OnnxEmbedder(
        model_dir, cache_dir=cache, exporter=TableExporter(), fallback=lambda: fallback
    )
    with pytest.warns(RuntimeWarning, match=r"pip install 'ragfusion\[local\]'"):
        embedder.warm_up()
    assert embedder.backend == "torch"
    assert embedder.embed_documents(["a", "b"]).shape == (2, DIM)


def test_backend_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    from ragfusion.embedders.sentence_transformers import SentenceTransformerEmbedder

    monkeypatch.delenv(BACKEND_ENV, raising=False)
    default = make_embedder()
    assert isinstance(default, OnnxEmbedder) and not default._strict
    assert isinstance(make_embedder("minilm-torch"), SentenceTransformerEmbedder)
    assert make_embedder("minilm-onnx")._strict  # type: ignore[attr-defined]
    monkeypatch.setenv(BACKEND_ENV, "torch")
    assert isinstance(make_embedder("minilm"), SentenceTransformerEmbedder)
    monkeypatch.setenv(BACKEND_ENV, "onnx")
    assert make_embedder("minilm")._strict  # type: ignore[attr-defined]
    monkeypatch.setenv(BACKEND_ENV, "tensorflow")
    with pytest.raises(ConfigError, match=BACKEND_ENV):
        make_embedder("minilm")
    # Same name and size whatever the backend: indexes stay compatible across backends.
    monkeypatch.delenv(BACKEND_ENV)
    names = {(make_embedder(s).name, make_embedder(s).dim) for s in ("minilm", "minilm-torch")}
    assert names == {("all-MiniLM-L6-v2", 384)}


@pytest.mark.models
def test_bundled_minilm_on_onnx_matches_torch(tmp_path: Path, corpus: Path) -> None:
    from ragfusion import Pipeline
    from ragfusion.embedders.sentence_transformers import SentenceTransformerEmbedder

    texts = [
        "How often should I replace the HEPA filter?",
        "The purifier has a warranty of 2 years from the date of purchase.",
        "Hold the filter button for 3 seconds to reset the filter light. " * 30,
        "Ångström-scale café naïveté",
    ]
    torch_vectors = SentenceTransformerEmbedder().embed_documents(texts)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no silent fallback to torch
        embedder = OnnxEmbedder(cache_dir=tmp_path / "cache", strict=True)
        onnx_vectors = embedder.embed_documents(texts)
        assert embedder.load_info["source"] == "export"
        again = OnnxEmbedder(cache_dir=tmp_path / "cache", strict=True)
        query_vectors = again.embed_queries(texts)
        assert again.load_info["source"] == "cache"
    assert (onnx_vectors * torch_vectors).sum(axis=1).min() > 0.999
    assert (query_vectors * torch_vectors).sum(axis=1).min() > 0.999
    # An index built on torch opens on ONNX: no mismatch error, nothing re-embedded.
    question = "How often do I replace the filter?"
    with Pipeline.open(tmp_path / "index", embedder=SentenceTransformerEmbedder()) as pipe:
        pipe.ingest([corpus])
        torch_hits = [h.chunk.chunk_id for h in pipe.search(question, k=3).hits]
    with Pipeline.open(tmp_path / "index", embedder=again) as pipe:
        assert pipe.ingest([corpus]).unchanged == 3
        assert [h.chunk.chunk_id for h in pipe.search(question, k=3).hits] == torch_hits
