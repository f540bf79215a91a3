"""Draw an ``eval`` report: nDCG@10 per mode with its 95% bootstrap interval."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ragfusion.errors import MissingDependencyError


def plot_report(report: dict[str, Any], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only, no display needed
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise MissingDependencyError("matplotlib", "eval", "eval --plot") from exc
    modes = list(report["modes"])
    values = [report["modes"][m]["ndcg@10"] for m in modes]
    lows = [
        v - report["modes"][m]["ci95"]["ndcg@10"][0] for m, v in zip(modes, values, strict=True)
    ]
    highs = [
        report["modes"][m]["ci95"]["ndcg@10"][1] - v for m, v in zip(modes, values, strict=True)
    ]
    figure, axes = plt.subplots(figsize=(max(4.0, 1.1 * len(modes)), 3.6))
    bars = axes.bar(modes, values, yerr=[lows, highs], capsize=4, color="#4c78a8")
    for bar, value in zip(bars, values, strict=True):  # inside the bar, clear of the CI
        axes.annotate(
            f"{value:.3f}",
            (bar.get_x() + bar.get_width() / 2, value / 2),
            ha="center",
            va="center",
            fontsize=8,
            color="white",
        )
    axes.set_ylabel("nDCG@10 (95% CI)")
    axes.set_title(f"{report['dataset']} ({report['split']}, {report['n_queries']} queries)")
    axes.set_ylim(0, min(1.0, max(values) * 1.15 + 0.02))
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
