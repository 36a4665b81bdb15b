"""Fault injection: a build that fails or is killed at any point leaves the previous outputs intact, and the
next build completes. Failures are injected by monkeypatching (in-process) and by signals sent to a real
`python -m fincorpus` process paused at a known point (no sleeps: the child says where it is)."""

from __future__ import annotations

import errno
import hashlib
import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import fincorpus.io.writers as writers
import fincorpus.stream as stream
from fincorpus.cli import app
from fincorpus.config import Config
from fincorpus.errors import AccountingError, UserError
from fincorpus.io.writers import verify_manifest
from fincorpus.pipeline import build

REPO = Path(__file__).resolve().parent.parent
FIRST = {"a.txt": "华泰证券研究所发布人工智能产业深度报告，认为大模型将带来范式革命。" * 3,
         "b.txt": "东吴证券传媒行业周报：AI应用加速落地，关注内容与渠道。" * 3}
SECOND = {"c.txt": "上海证券：传媒行业2023年展望，短视频与游戏板块估值修复。" * 3,
          "d.jsonl": '{"id": "d1", "text": "国泰君安：银行业净息差企稳，资产质量改善。"}\n'}


def write_inputs(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


def snapshot(out: Path) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(out.iterdir())}


def leftovers(out: Path) -> list[str]:
    return sorted(path.name for path in out.parent.iterdir() if path.name.startswith(f".{out.name}.")
                  and not path.name.endswith(".lock"))


@pytest.fixture()
def previous_build(tmp_path: Path) -> tuple[Path, dict[str, str], Path]:
    """A completed first build in `out`, its snapshot, and the inputs of a second, different build."""
    out = tmp_path / "out"
    build([write_inputs(tmp_path / "first", FIRST)], out, Config())
    return out, snapshot(out), write_inputs(tmp_path / "second", SECOND)


def second_build_completes(out: Path, inputs: Path) -> None:
    build([inputs], out, Config())
    assert verify_manifest(out) == []
    assert set(pl.read_parquet(out / "lineage.parquet")["doc_id"]) == {"c.txt", "d1"}
    assert leftovers(out) == []


class Boom(RuntimeError):
    pass


def fail_on_call(number: int, original):
    calls = {"count": 0}

    def wrapper(*args, **kwargs):
        calls["count"] += 1
        if calls["count"] == number:
            raise Boom(f"injected failure on call {number}")
        return original(*args, **kwargs)
    return wrapper


FAILURE_POINTS = {
    "first parquet of the staging directory": (stream, "parquet_rows_atomic", 1),
    "a later parquet, others already staged": (stream, "parquet_rows_atomic", 3),
    "the last parquet": (stream, "write_parquet_atomic", 1),
    "rendering the reports": (stream, "write_reports", 1),
    "checking the staged tables": (stream, "verify_written", 1),
    "writing the manifest": (stream, "write_manifest", 1),
    "between writing and switching": (writers, "switch_in", 1),
}


@pytest.mark.parametrize("point", FAILURE_POINTS)
def test_failure_at_any_write_step_keeps_previous_outputs(previous_build, monkeypatch, point):
    out, before, second = previous_build
    module, name, call = FAILURE_POINTS[point]
    monkeypatch.setattr(module, name, fail_on_call(call, getattr(module, name)))
    with pytest.raises(Boom):
        build([second], out, Config())
    assert snapshot(out) == before and verify_manifest(out) == []
    assert leftovers(out) == []
    monkeypatch.undo()
    second_build_completes(out, second)


def test_failure_inside_the_two_rename_fallback_puts_previous_outputs_back(previous_build, monkeypatch):
    out, before, second = previous_build
    monkeypatch.setattr(writers, "_exchange", lambda first, other: False)  # a file system without RENAME_EXCHANGE
    monkeypatch.setattr(writers.os, "rename", fail_on_call(2, writers.os.rename))  # staging → out fails
    with pytest.raises(Boom):
        build([second], out, Config())
    assert snapshot(out) == before and leftovers(out) == []
    monkeypatch.undo()
    second_build_completes(out, second)


def test_two_rename_fallback_switches_the_whole_directory(previous_build, monkeypatch):
    out, _, second = previous_build
    monkeypatch.setattr(writers, "_exchange", lambda first, other: False)
    second_build_completes(out, second)


def test_outputs_parked_by_a_killed_fallback_switch_are_put_back_by_the_next_run(previous_build):
    out, before, second = previous_build
    parked = out.with_name(f".{out.name}.previous-4242")
    out.rename(parked)  # what a process killed between the two renames leaves
    writers.recover(out)
    assert snapshot(out) == before
    second_build_completes(out, second)


def test_exception_in_a_stage_before_writing_keeps_previous_outputs(previous_build, monkeypatch):
    out, before, second = previous_build
    monkeypatch.setattr(stream, "dedup_cleaned", fail_on_call(1, stream.dedup_cleaned))
    with pytest.raises(Boom):
        build([second], out, Config())
    assert snapshot(out) == before


def test_broken_accounting_fails_loudly_and_switches_nothing_in(previous_build, monkeypatch):
    out, before, second = previous_build
    original = stream.assemble_index

    def lose_a_row(*args):
        tables = original(*args)
        return stream.IndexTables(tables.lineage.head(tables.lineage.height - 1), tables.corpus)
    monkeypatch.setattr(stream, "assemble_index", lose_a_row)
    with pytest.raises(AccountingError, match="lineage has 1 rows for 2 inputs"):
        build([second], out, Config())
    assert snapshot(out) == before


def test_a_directory_fincorpus_did_not_write_is_never_replaced(tmp_path):
    out = write_inputs(tmp_path / "home", {"thesis.txt": "mine"})
    with pytest.raises(UserError, match="holds files fincorpus did not write"):
        build([write_inputs(tmp_path / "in", FIRST)], out, Config())
    assert (out / "thesis.txt").read_text(encoding="utf-8") == "mine"


@pytest.mark.parametrize(("code", "words"), [(errno.ENOSPC, "no space left"), (errno.EACCES, "Permission denied")])
def test_disk_full_or_permission_denied_is_one_line_exit_2(previous_build, monkeypatch, code, words):
    out, before, second = previous_build

    def refuse(path, schema):
        raise (PermissionError if code == errno.EACCES else OSError)(code, "Permission denied" if code == errno.EACCES
                                                                      else "No space left on device", str(path))
    monkeypatch.setattr(stream, "parquet_rows_atomic", refuse)
    result = CliRunner().invoke(app, ["build", str(second), "--out", str(out), "--no-prefect"])
    assert result.exit_code == 2
    assert words in result.output and "another --out" in result.output
    assert "Traceback" not in result.output
    assert snapshot(out) == before


def test_output_under_a_file_is_a_one_line_user_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(UserError, match="cannot write to"):
        build([write_inputs(tmp_path / "in", FIRST)], blocker / "out", Config())


# A child process that runs the real CLI and stops at one point, saying so on stdout, until it is killed.
# SIGINT is restored to Python's default: a background job (cron, CI) may have inherited it ignored.
# The child waits in short sleeps rather than one blocking read: the kernel may hand the signal to one of
# polars' threads, and Python only notices it between bytecodes of the main thread, as in real work.
CHILD = textwrap.dedent("""
    import signal
    import sys
    import time
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import {module} as target

    original = getattr(target, "{name}")
    calls = 0

    def paused(*args, **kwargs):
        global calls
        calls += 1
        if calls == {call}:
            print("paused", flush=True)
            while True:  # the parent kills us here
                time.sleep(0.01)
        return original(*args, **kwargs)

    setattr(target, "{name}", paused)
    from fincorpus.cli import main
    sys.argv = ["fincorpus", "build", {inputs!r}, "--out", {out!r}, "--no-prefect"]
    main()
""")

KILL_POINTS = {
    "while reading": ("fincorpus.io.readers", "read_file", 1),
    "with half the outputs staged": ("fincorpus.stream", "parquet_rows_atomic", 2),
    "with every output staged, before the switch": ("fincorpus.io.writers", "switch_in", 1),
}


KILLS = [(point, signal.SIGTERM) for point in KILL_POINTS] + [(point, signal.SIGINT) for point in KILL_POINTS] + [
    ("with every output staged, before the switch", signal.SIGKILL)]


@pytest.mark.parametrize(("point", "signal_number"), KILLS,
                         ids=[f"{signal.Signals(number).name} {point}" for point, number in KILLS])
def test_a_killed_build_leaves_previous_outputs_and_the_next_run_completes(previous_build, point, signal_number):
    out, before, second = previous_build
    module, name, call = KILL_POINTS[point]
    script = CHILD.format(module=module, name=name, call=call, inputs=str(second), out=str(out))
    child = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "paused", child.stderr.read()
        child.send_signal(signal_number)
        child.wait(timeout=60)
    finally:
        child.kill()
        child.communicate()
    assert child.returncode != 0
    assert snapshot(out) == before and verify_manifest(out) == []
    if signal_number != signal.SIGKILL:  # the CLI turns SIGTERM and SIGINT into a clean exit
        assert leftovers(out) == []
    second_build_completes(out, second)


def test_a_summary_that_disagrees_with_lineage_fails_before_the_switch(previous_build, monkeypatch):
    out, before, second = previous_build
    original = stream.write_reports

    def miscount(directory, tables):
        written = original(directory, tables)
        summary = json.loads((directory / "summary.json").read_text(encoding="utf-8"))
        (directory / "summary.json").write_text(json.dumps(summary | {"quarantined": 7}), encoding="utf-8")
        return written
    monkeypatch.setattr(stream, "write_reports", miscount)
    with pytest.raises(AccountingError, match="summary says quarantined=7 but lineage has 0"):
        build([second], out, Config())
    assert snapshot(out) == before


def test_the_flow_retries_a_write_that_fails_once(prefect_harness, previous_build, monkeypatch):
    from flows.build import build_corpus

    out, _, second = previous_build
    calls = []

    def flaky(frame, path):
        calls.append(path.name)
        if len(calls) == 1:
            raise OSError(errno.EIO, "Input/output error", str(path))
        return original(frame, path)
    original = stream.write_parquet_atomic
    monkeypatch.setattr(stream, "write_parquet_atomic", flaky)
    summary = build_corpus([str(second)], str(out), Config())
    assert summary["documents_in"] == 2 and verify_manifest(out) == []
    assert calls.count(calls[0]) == 2  # the write task ran again, into a fresh staging directory


def test_the_flow_does_not_retry_a_user_error(prefect_harness, tmp_path, monkeypatch):
    from flows.build import build_corpus

    out = write_inputs(tmp_path / "home", {"thesis.txt": "mine"})
    checks = []
    original = writers.check_replaceable
    monkeypatch.setattr(writers, "check_replaceable", lambda target: checks.append(target) or original(target))
    with pytest.raises(UserError, match="did not write"):
        build_corpus([str(write_inputs(tmp_path / "in", FIRST))], str(out), Config())
    assert len(checks) == 1


def test_an_unwritable_output_directory_is_one_line_exit_2_from_the_cli(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "fincorpus", "build", str(write_inputs(tmp_path / "in", FIRST)),
                             "--out", str(blocker / "out"), "--no-prefect"], cwd=REPO, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "cannot write to" in errors[0] and "Traceback" not in result.stderr


def test_outputs_are_readable_by_others_as_umask_allows(tmp_path, seeds_dir):
    """A reviewer on a shared server must be able to open report.html: no mkstemp/mkdtemp 0600/0700 modes."""
    import os
    import stat

    from fincorpus.config import Config
    from fincorpus.pipeline import build

    previous = os.umask(0o022)
    try:
        build([seeds_dir], tmp_path / "out", Config())
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "out" / "report.html").stat().st_mode) == 0o644
