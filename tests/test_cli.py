"""The CLI as a user meets it: exit codes and one-line errors, run in a real subprocess."""

import subprocess
import sys

import polars as pl


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "fincorpus", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def test_missing_input_is_one_line_exit_2(tmp_path):
    result = run("build", tmp_path / "missing", "--out", tmp_path / "x", "--no-prefect")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "input not found" in lines[0]
    assert "Traceback" not in result.stderr


def test_misspelt_config_key_is_one_line_exit_2(tmp_path, seeds_dir):
    config = tmp_path / "config.yaml"
    config.write_text("dedup:\n  threshhold: 0.5\n", encoding="utf-8")
    result = run("build", seeds_dir, "--out", tmp_path / "x", "--config", config, "--no-prefect")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown key 'dedup.threshhold'" in lines[0]


def test_build_without_prefect_prints_a_summary(tmp_path, seeds_dir):
    result = run("build", seeds_dir, "--out", tmp_path / "out", "--no-prefect")
    assert result.returncode == 0, result.stderr
    assert "canonical" in result.stdout and str(tmp_path / "out" / "lineage.parquet") in result.stdout
    assert pl.read_parquet(tmp_path / "out" / "lineage.parquet").height == 5


def test_report_command_rerenders_the_same_report(seed_build, tmp_path):
    import shutil

    for path in seed_build.out.glob("*.parquet"):
        shutil.copy(path, tmp_path / path.name)
    result = run("report", tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "report.md").read_text(encoding="utf-8") == (seed_build.out / "report.md").read_text(encoding="utf-8")


def test_report_on_a_directory_without_outputs_is_a_user_error(tmp_path):
    result = run("report", tmp_path)
    assert result.returncode == 2 and "no corpus.parquet" in result.stderr
