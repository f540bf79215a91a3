"""The ``ragfusion`` app: the commands of each group, registered in the order ``--help`` shows.

Commands parse, call the Pipeline and render; they live in one module per group and import
their heavy modules (the pipeline, models, index libraries) inside the command, so
``ragfusion --help`` stays instant.
"""

from __future__ import annotations

import typer

from ragfusion.cli import ask, evaluate, index, serve, write

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Retrieval-augmented generation with fusion, offline by default.",
)

app.command()(index.ingest)
app.command()(index.sync)
app.command()(ask.search)
app.command()(ask.ask)
app.command()(index.docs)
app.command()(index.check)
app.command("eval")(evaluate.eval_command)
app.command()(evaluate.tune)
app.command()(serve.serve)
app.command()(ask.chat)
app.command()(write.write)


def main() -> None:
    """The console entry point."""
    app()


if __name__ == "__main__":
    main()
