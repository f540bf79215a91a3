"""`eval` and `tune` on a tiny BEIR collection with a hashing embedder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import HashEmbedder, ScriptedLLM

from ragfusion import Pipeline, PipelineConfig
from ragfusion.errors import ConfigError
from ragfusion.evaluation.beir import load_collection
from ragfusion.evaluation.metrics import bootstrap_ci, oracle_run, paired_p_value, per_query
from ragfusion.evaluation.runner import evaluate, tune

DOCS = {
    "d1": ("Zinc and colds", "Zinc lozenges shorten the duration of the common cold."),
    "d2": ("Vitamin D", "Vitamin D supplements do not prevent fractures in older adults."),
    "d3": ("Exercise", "Regular exercise lowers blood pressure in adults with hypertension."),
    "d4": ("Sleep", "Short sleep is associated with weight gain in children."),
    "d5": ("Coffee", "Coffee consumption is linked to lower risk of liver disease."),
}
QUERIES = {
    "q1": "zinc common cold",
    "q2": "vitamin D fractures",
    "q3": "exercise blood pressure",
    "q4": "sleep weight children",
    "q5": "coffee liver",
}


def write_beir(root: Path) -> Path:
    (root / "qrels").mkdir(parents=True)
    with (root / "corpus.jsonl").open("w") as handle:
        for doc_id, (title, text) in DOCS.items():
            handle.write(json.dumps({"_id": doc_id, "title": title, "text": text}) + "\n")
    with (root / "queries.jsonl").open("w") as handle:
        for qid, text in QUERIES.items():
            handle.write(json.dumps({"_id": qid, "text": text}) + "\n")
    for split, qids in (("test", ["q1", "q2", "q3"]), ("train", ["q4", "q5", "q1"])):
        lines = ["query-id\tcorpus-id\tscore"] + [f"{q}\td{q[1]}\t1" for q in qids]
        (root / "qrels" / f"{split}.tsv").write_text("\n".join(lines) + "\n")
    return root


def test_load_collection_reads_only_judged_queries(tmp_path: Path) -> None:
    collection = load_collection(write_beir(tmp_path / "beir"), "test")
    assert list(collection.queries) == ["q1", "q2", "q3"]
    assert collection.qrels["q2"] == {"d2": 1}
    assert len(collection.corpus) == 5 and collection.corpus[0].title == "Zinc and colds"
    with pytest.raises(ConfigError, match="missing"):
        load_collection(tmp_path / "beir", "dev")


def test_metrics_match_hand_computation() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
    run = {"q1": {"x": 2.0, "a": 1.0}, "q2": {}}  # q1: relevant at rank 2; q2: nothing
    values = per_query(qrels, run)
    assert values["mrr@10"] == {"q1": 0.5, "q2": 0.0}
    assert values["ndcg@10"]["q1"] == pytest.approx(1 / 1.5849625, rel=1e-5)  # 1/log2(3)
    assert values["recall@100"] == {"q1": 1.0, "q2": 0.0}


def test_oracle_puts_relevant_candidates_first() -> None:
    qrels = {"q": {"b": 2, "c": 1}}
    run = oracle_run(qrels, {"q": {"a", "b", "c"}})
    assert sorted(run["q"], key=lambda d: -run["q"][d]) == ["b", "c", "a"]


def test_bootstrap_and_paired_test() -> None:
    low, high = bootstrap_ci([0.2, 0.4, 0.6, 0.8] * 10)
    assert low < 0.5 < high
    assert paired_p_value([0.5] * 10, [0.5] * 10) == 1.0
    assert paired_p_value([0.9, 0.8, 0.95, 0.85] * 5, [0.1, 0.2, 0.15, 0.05] * 5) < 0.001


def test_evaluate_reports_every_mode(tmp_path: Path) -> None:
    collection = load_collection(write_beir(tmp_path / "beir"), "test")
    with Pipeline.open(tmp_path / "idx", embedder=HashEmbedder()) as pipe:
        pipe.ingest_records(collection.corpus)
        report = evaluate(pipe, collection, ["bm25", "dense", "hybrid", "prf", "oracle"])
    assert report["n_queries"] == 3 and report["dataset"] == "beir"
    for name in ("bm25", "dense", "hybrid", "prf", "oracle"):
        mode = report["modes"][name]
        assert set(mode) >= {"ndcg@10", "recall@100", "mrr@10", "ci95"}
        assert 0.0 <= mode["ndcg@10"] <= 1.0
    assert report["modes"]["bm25"]["ndcg@10"] == 1.0  # each query names its document
    assert report["modes"]["oracle"]["ndcg@10"] >= report["modes"]["hybrid"]["ndcg@10"]
    assert "latency_ms_p50" in report["modes"]["hybrid"]
    assert 0.0 <= report["modes"]["prf"]["p_vs_hybrid"] <= 1.0  # paired test vs plain RRF
    assert "p_vs_hybrid" not in report["modes"]["hybrid"]
    assert "p_vs_hybrid" not in report["modes"]["oracle"]
    with pytest.raises(ConfigError):
        evaluate(pipe, collection, ["nope"])


def test_tune_saves_weights_that_open_applies(tmp_path: Path) -> None:
    root = write_beir(tmp_path / "beir")
    train = load_collection(root, "train")
    with Pipeline.open(tmp_path / "idx", embedder=HashEmbedder()) as pipe:
        pipe.ingest_records(train.corpus)
        tuned = tune(pipe, train)
    assert tuned["trained_on"] == {"dataset": "beir", "split": "train", "n_queries": 3}
    saved = json.loads((tmp_path / "idx" / "fusion.json").read_text())
    assert saved["rrf_k"] == tuned["rrf_k"]
    with Pipeline.open(tmp_path / "idx", embedder=HashEmbedder()) as reopened:
        assert reopened.config.fusion == tuned["method"] in ("rrf", "combsum")
        assert reopened.config.rrf_k == tuned["rrf_k"]
        assert reopened.config.retriever_weights == tuned["retriever_weights"]
    explicit = PipelineConfig(rrf_k=7)
    with Pipeline.open(tmp_path / "idx", explicit, embedder=HashEmbedder()) as given:
        assert given.config.rrf_k == 7  # an explicit config wins


def test_prf_and_hyde_lists_show_in_provenance(tmp_path: Path) -> None:
    collection = load_collection(write_beir(tmp_path / "beir"), "test")
    llm = ScriptedLLM(["Zinc lozenges taken early shorten colds by about two days."])
    config = PipelineConfig(prf=True, hyde=True)
    with Pipeline.open(tmp_path / "idx", config, embedder=HashEmbedder(), llm=llm) as pipe:
        pipe.ingest_records(collection.corpus)
        result = pipe.search("zinc common cold", k=3)
    labels = [(lst.retriever, lst.query.split(":")[0]) for lst in result.lists]
    assert labels == [
        ("bm25", "zinc common cold"),
        ("bm25", "prf"),
        ("dense", "zinc common cold"),
        ("dense", "hyde"),
    ]
    assert result.hits[0].chunk.source == "d1"
    found_by = {p.query.split(":")[0] for p in result.hits[0].provenance}
    assert {"prf", "hyde"} <= found_by


def test_tuning_never_leaks_into_the_default_mode(tmp_path: Path) -> None:
    root = write_beir(tmp_path / "beir")
    test = load_collection(root, "test")
    with Pipeline.open(tmp_path / "idx", embedder=HashEmbedder()) as pipe:
        pipe.ingest_records(test.corpus)
        before = evaluate(pipe, test, ["default"])["modes"]["default"]["ndcg@10"]
    (tmp_path / "idx" / "fusion.json").write_text(
        json.dumps({"method": "rrf", "rrf_k": 1, "retriever_weights": {"bm25": 0.0, "dense": 1.0}})
    )
    with Pipeline.open(tmp_path / "idx", embedder=HashEmbedder()) as pipe:
        assert pipe.config.retriever_weights["bm25"] == 0.0  # the index applies its tuning
        report = evaluate(pipe, test, ["default", "hybrid-weighted"])
    assert report["modes"]["default"]["ndcg@10"] == before


def test_plot_writes_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from ragfusion.evaluation.plot import plot_report

    collection = load_collection(write_beir(tmp_path / "beir"), "test")
    with Pipeline.open(tmp_path / "idx", embedder=HashEmbedder()) as pipe:
        pipe.ingest_records(collection.corpus)
        report = evaluate(pipe, collection, ["bm25", "dense", "hybrid"])
    plot_report(report, tmp_path / "plot.png")
    assert (tmp_path / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ensure_tuned_uses_the_train_split(tmp_path: Path) -> None:
    from ragfusion.evaluation.runner import ensure_tuned

    root = write_beir(tmp_path / "beir")
    collection = load_collection(root, "test")
    with Pipeline.open(tmp_path / "idx", embedder=HashEmbedder()) as pipe:
        pipe.ingest_records(collection.corpus)
        tuned = ensure_tuned(pipe, root)
        assert tuned["trained_on"]["split"] == "train"
        assert ensure_tuned(pipe, root) == tuned  # reused, not re-tuned
    (root / "qrels" / "train.tsv").unlink()
    with (
        Pipeline.open(tmp_path / "idx2", embedder=HashEmbedder()) as pipe,
        pytest.raises(ConfigError, match="no train split"),
    ):
        ensure_tuned(pipe, root)
