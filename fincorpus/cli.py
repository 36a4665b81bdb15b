"""`fincorpus`: a thin typed shell over the library. Parses, calls, prints; nothing else.

Exit codes: 0 success, 2 a user error (one line saying what to do), 1 a bug (with its traceback).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from fincorpus.config import Config, load_config
from fincorpus.errors import UserError
from fincorpus.pipeline import OUTPUT_FILES

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Clean, deduplicate and audit scraped Chinese financial text.")
console = Console(stderr=True)  # progress and errors
output = Console(soft_wrap=True)  # results: the summary and the paths written

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="YAML file over the defaults (see config.yaml).")]
EngineOption = Annotated[str | None, typer.Option("--engine", help="`local` or `dask`: overrides engine.kind of the config.")]


def _fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _print_summary(summary: dict, paths: list[Path], title: str = "fincorpus build") -> None:
    table = Table(title=title, show_header=True, header_style="bold")
    for column in ("documents in", "canonical", "duplicate", "dropped", "quarantined"):
        table.add_column(column, justify="right")
    table.add_row(*(str(summary[key]) for key in ("documents_in", "canonical", "duplicate", "dropped", "quarantined")))
    output.print(table)
    for path in paths:
        output.print(f"  {path}", highlight=False)


def _run_flow(inputs: list[str], out: Path, config: Config) -> dict:
    _prefect_quiet()
    _compile_meanwhile()
    from flows.build import run_build

    return run_build(inputs, str(out), config)


def _compile_meanwhile() -> None:
    """The dedup kernels compiled (first run) or loaded from numba's cache in a process of their own while
    Prefect starts (`fincorpus.dedup.warm`)."""
    from fincorpus.dedup.warm import compile_in_background

    compile_in_background()


def _settings(config: Path | None, engine: str | None, prefect: bool) -> Config:
    """The config file over the defaults, with --engine over its engine.kind."""
    settings = load_config(config)
    if engine is not None:
        if engine not in ("local", "dask"):
            raise UserError(f"unknown engine '{engine}': pass --engine local or --engine dask")
        settings = settings.model_copy(update={"engine": settings.engine.model_copy(update={"kind": engine})})
    if settings.engine.kind == "dask" and not prefect:
        raise UserError("the dask engine runs through Prefect: drop --no-prefect, or use --engine local")
    return settings


@app.command()
def build(
    inputs: Annotated[list[Path], typer.Argument(help="Files or directories (recursive) of .txt .md .html .jsonl .parquet")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")],
    config: ConfigOption = None,
    prefect: Annotated[bool, typer.Option(help="Run as a Prefect flow (embedded server); --no-prefect runs the same "
                                               "functions directly.")] = True,
    engine: EngineOption = None,
) -> None:
    """Build a canonical corpus with lineage and a report from INPUTS into --out."""
    from fincorpus.io.readers import check_output_outside, discover
    from fincorpus.pipeline import build as build_plain

    try:
        settings = _settings(config, engine, prefect)
        discover(inputs, settings.input)  # a missing input is a user error before any work starts
        check_output_outside(inputs, out)
        with console.status("building corpus…"):
            if prefect:
                summary = _run_flow([str(path) for path in inputs], out, settings)
            else:
                summary = build_plain(inputs, out, settings, progress=lambda stage: console.log(stage)).summary
    except UserError as error:
        _fail(str(error))
    _print_summary(summary, [out / name for name in OUTPUT_FILES])


@app.command()
def report(directory: Annotated[Path, typer.Argument(help="An output directory of `fincorpus build`.")]) -> None:
    """Render report.md, summary.json and report.html again from the output tables in DIRECTORY."""
    import json

    from fincorpus.report.files import rerender_reports

    try:
        written = rerender_reports(directory)
    except UserError as error:
        _fail(str(error))
    _print_summary(json.loads((directory / "summary.json").read_text(encoding="utf-8")), written, "fincorpus report")


@app.command()
def clean(
    file: Annotated[Path, typer.Argument(help="One input file (.txt .md .html .jsonl .parquet).")],
    spans: Annotated[bool, typer.Option("--spans", help="Show the text as read with every removed span "
                                                       "highlighted, and a table of the spans and their rules.")] = False,
    config: ConfigOption = None,
) -> None:
    """Print FILE's cleaned text, to debug a rule on one page. FILE is one batch for the template rule."""
    from fincorpus.pipeline import clean_texts, read_documents

    try:
        settings = load_config(config)
        if not file.is_file():
            raise UserError(f"not a file: {file} (pass one input file; `build` takes directories)")
        documents = read_documents([file], settings)
        cleaned = clean_texts(documents, settings)
    except UserError as error:
        _fail(str(error))
    for doc in documents:
        if doc.status is not None:
            console.print(f"{doc.doc_id}: {doc.status.value} ({doc.reason.value}: {doc.detail})", highlight=False)
    for doc, result in cleaned:
        if len(cleaned) > 1:
            output.rule(doc.doc_id)
        output.print(_highlighted(result) if spans else result.text, markup=False, highlight=False, end="")
        if spans:
            output.print(_span_table(result))


def _highlighted(result) -> Text:
    """The text as read, removed spans struck through in red (a span's rule shows in the table below)."""
    text = Text(result.original)
    for span in result.removed:
        text.stylize("strike red", span.start, span.end)
    return text


def _span_table(result) -> Table:
    table = Table(title=f"{len(result.removed)} removed spans", show_header=True, header_style="bold")
    for column, justify in (("rule", "left"), ("start", "right"), ("end", "right"), ("text", "left")):
        table.add_column(column, justify=justify, overflow="fold")
    for span in result.removed:
        table.add_row(span.rule, str(span.start), str(span.end), repr(span.text[:60] + ("…" if len(span.text) > 60 else "")))
    for rule, count in sorted(result.rewritten.items()):
        table.add_row(rule, "", "", f"({count} characters rewritten in place)")
    return table


def _prefect_quiet() -> None:
    # Prefect's own log lines are for its UI; the CLI prints a summary instead. Set before Prefect is imported;
    # no analytics: no network here, and none wanted.
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # The embedded server's first start runs migrations: 20 s is not enough on a busy 2-core machine.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")  # engine.kind dask: the cluster's own log lines


@app.command()
def update(
    inputs: Annotated[list[Path], typer.Argument(help="Files or directories of the new batch (as for build)")],
    store: Annotated[Path, typer.Option("--store", "-s", help="Store directory (created on first use).")],
    config: ConfigOption = None,
    prefect: Annotated[bool, typer.Option(help="Run as the Prefect flow `update-store`; --no-prefect runs the same "
                                               "functions directly.")] = True,
    engine: EngineOption = None,
) -> None:
    """Add a batch to a corpus store: clean it, deduplicate it within itself and against the store, commit."""
    from fincorpus.io.readers import check_output_outside, discover
    from fincorpus.store import update as update_plain

    try:
        settings = _settings(config, engine, prefect)
        discover(inputs, settings.input)
        check_output_outside(inputs, store, "--store")
        with console.status("updating store…"):
            if prefect:
                _prefect_quiet()
                _compile_meanwhile()
                from flows.update import run_update

                summary = run_update([str(path) for path in inputs], str(store), settings)
            else:
                summary = update_plain(inputs, store, settings, progress=lambda stage: console.log(stage)).summary
    except UserError as error:
        _fail(str(error))
    table = Table(title=f"fincorpus update: generation {summary['generation']}", show_header=False)
    table.add_column("documents")
    table.add_column("count", justify="right")
    for key in ("inputs", "already_stored", "added", "canonical", "duplicate", "dropped", "quarantined", "rejected",
                "superseded", "cleaned_again", "documents_in_store", "canonical_in_store"):
        table.add_row(key.replace("_", " "), str(summary[key]))
    output.print(table)
    if summary["added"] or summary["rejected"]:
        output.print(f"  {store / 'generations' / format(summary['generation'], '06d') / 'report.md'}", highlight=False)
    else:
        output.print("  nothing new: the store is unchanged", highlight=False)


@app.command()
def export(
    store: Annotated[Path, typer.Option("--store", "-s", help="Store directory of `fincorpus update`.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")],
) -> None:
    """Write the store's current corpus, lineage, removed spans and report into --out, as `build` does."""
    from fincorpus.store import export_store

    try:
        summary = export_store(store, out).summary
    except UserError as error:
        _fail(str(error))
    _print_summary(summary, [out / name for name in OUTPUT_FILES], "fincorpus export")


@app.command()
def serve(
    watch: Annotated[Path, typer.Option("--watch", help="Directory the scraper writes new files into.")],
    store: Annotated[Path, typer.Option("--store", "-s", help="Store directory (created on first use).")],
    cron: Annotated[str | None, typer.Option(help='Cron schedule, e.g. "0 */4 * * *".')] = None,
    interval: Annotated[float | None, typer.Option(help="Run every this many seconds.", min=1)] = None,
    config: ConfigOption = None,
) -> None:
    """Serve `fincorpus update --watch DIR` as a Prefect deployment on a schedule, until Ctrl-C."""
    from fincorpus.io.readers import check_output_outside

    try:
        settings = load_config(config)
        if (cron is None) == (interval is None):
            raise UserError("pass exactly one schedule: --cron \"0 */4 * * *\" or --interval SECONDS")
        if not watch.is_dir():
            raise UserError(f"--watch {watch} is not a directory: pass the directory the scraper writes into")
        check_output_outside([watch], store, "--store")
        _prefect_quiet()
        from flows.serve import serve as serve_flow

        serve_flow(watch.resolve(), store.resolve(), settings, cron=cron, interval=interval)
    except UserError as error:
        _fail(str(error))


def _exit_on_sigterm(signum: int, frame: object) -> None:
    # A scheduler's SIGTERM unwinds like Ctrl-C: a half-written staging directory is removed on the way out.
    raise SystemExit(128 + signum)


def main() -> None:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        app()
    except UserError as error:  # raised inside a flow run: still one line, exit 2
        console.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        sys.exit(2)
