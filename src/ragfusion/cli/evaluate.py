"""The commands that measure and tune retrieval on a BEIR collection: ``eval``, ``tune``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ragfusion.cli.common import open_pipeline, run, setup_environment

if TYPE_CHECKING:
    from rich.console import Console

    from ragfusion.evaluation.beir import Collection
    from ragfusion.pipeline import Pipeline

LimitOpt = Annotated[int | None, typer.Option(min=1, help="Only the first N queries.")]


def eval_command(
    data_dir: Annotated[Path, typer.Argument(help="A BEIR-format collection folder.")],
    modes: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated: bm25, dense, hybrid, "
            "hybrid-weighted, prf, fusion, hyde, default, "
            "oracle."
        ),
    ] = None,
    split: Annotated[str, typer.Option(help="Which qrels/<split>.tsv to score.")] = "test",
    index: Annotated[
        Path | None,
        typer.Option(help="Index to build or reuse (default: a cache folder per collection)."),
    ] = None,
    limit: LimitOpt = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write results here.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Draw nDCG@10 per mode to this PNG.")] = None,
) -> None:
    """Score retrieval modes on a BEIR collection: nDCG@10, Recall@100, MRR@10 with 95%
    bootstrap intervals, a paired test against the best single retriever, and latency."""
    from rich.console import Console
    from rich.table import Table

    from ragfusion.evaluation.runner import evaluate

    chosen = [m.strip() for m in (modes or "bm25,dense,default").split(",") if m.strip()]
    collection, pipe = _collection_index(data_dir, split, index)
    err = Console(stderr=True)
    with pipe:
        _ingest_collection(pipe, collection)
        _tune_if_needed(pipe, data_dir, chosen, err)
        with err.status("evaluating") as status:
            report = run(
                lambda: evaluate(
                    pipe,
                    collection,
                    chosen,
                    limit=limit,
                    progress=lambda m, d, n: status.update(f"evaluating {m}: {d}/{n} queries"),
                )
            )
    if json_out:
        json_out.write_text(json.dumps(report, indent=2) + "\n")
    if plot:
        from ragfusion.evaluation.plot import plot_report

        run(lambda: plot_report(report, plot))
    table = Table(title=f"{report['dataset']} ({report['split']}, {report['n_queries']} queries)")
    for column in ("mode", "nDCG@10", "95% CI", "R@100", "MRR@10", "p vs best single", "p50 ms"):
        table.add_column(column, justify="left" if column == "mode" else "right")
    for name, m in report["modes"].items():
        low, high = m["ci95"]["ndcg@10"]
        table.add_row(
            name,
            f"{m['ndcg@10']:.4f}",
            f"{low:.3f}-{high:.3f}",
            f"{m['recall@100']:.4f}",
            f"{m['mrr@10']:.4f}",
            f"{m['p_vs_best_single']:.3g}" if "p_vs_best_single" in m else "",
            f"{m['latency_ms_p50']:.1f}" if "latency_ms_p50" in m else "",
        )
    Console().print(table)


def tune(
    data_dir: Annotated[
        Path, typer.Argument(help="A BEIR-format collection with labelled queries to learn from.")
    ],
    split: Annotated[
        str, typer.Option(help="The split to learn on (never the test split you report).")
    ] = "train",
    index: Annotated[
        Path | None,
        typer.Option(help="The index to tune (default: the collection's cached index)."),
    ] = None,
    limit: LimitOpt = None,
) -> None:
    """Learn the fusion method, RRF k, the retriever weights and whether cluster feedback
    helps, from labelled queries; saves them in the index (fusion.json), where search, ask
    and eval's hybrid-weighted mode use them."""
    from ragfusion.evaluation.runner import tune as tune_weights

    collection, pipe = _collection_index(data_dir, split, index)
    with pipe:
        _ingest_collection(pipe, collection)
        tuned = run(lambda: tune_weights(pipe, collection, limit=limit))
    typer.echo(json.dumps(tuned, indent=2))


def _collection_index(
    data_dir: Path, split: str, index: Path | None
) -> tuple[Collection, Pipeline]:
    """Load the collection and open its index (by default a cache folder of its own)."""
    setup_environment()
    from rich.console import Console

    from ragfusion.evaluation.beir import load_collection
    from ragfusion.evaluation.runner import default_index_dir

    collection = run(lambda: load_collection(data_dir, split))
    for warning in collection.warnings:
        Console(stderr=True).print(f"[yellow]warning:[/] {warning}")
    pipe = open_pipeline(index or default_index_dir(collection), create=True)
    return collection, pipe


def _ingest_collection(pipe: Pipeline, collection: Collection) -> None:
    """Index the collection's corpus; unchanged documents are reused."""
    from rich.console import Console

    err = Console(stderr=True)
    with err.status(
        f"indexing {len(collection.corpus)} documents of {collection.name} "
        f"into {pipe.index_dir} (reused when unchanged)"
    ):
        report = run(lambda: pipe.ingest_records(collection.corpus))
    if report.chunks_added:
        err.print(
            f"indexed {report.chunks_added} chunks in {report.seconds:.0f}s "
            f"({report.chunks_per_second:.0f} chunks/s)"
        )


def _tune_if_needed(pipe: Pipeline, data_dir: Path, modes: list[str], err: Console) -> None:
    """Tune fusion on the train split first when hybrid-weighted is among the modes."""
    from ragfusion.evaluation.runner import ensure_tuned

    if "hybrid-weighted" not in modes:
        return
    with err.status("tuning fusion on the train split (hybrid-weighted needs it)"):
        tuned = run(lambda: ensure_tuned(pipe, data_dir))
    err.print(
        f"fusion tuned on {tuned['trained_on']['split']}: {tuned['method']} "
        f"k={tuned['rrf_k']} weights {tuned['retriever_weights']} "
        f"cluster feedback {tuned.get('cluster_feedback', 'as configured')}"
    )
