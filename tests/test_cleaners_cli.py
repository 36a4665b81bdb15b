"""`fincorpus clean FILE [--spans]`: debug the cleaning of one page, run as a user runs it."""

import subprocess
import sys
from pathlib import Path

from conftest import SEED_003

GOLDEN = Path(__file__).parent / "golden"


def run(*args):
    return subprocess.run([sys.executable, "-m", "fincorpus", "clean", *map(str, args)], capture_output=True,
                          text=True, timeout=120, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})


def test_clean_prints_the_cleaned_text(seeds_dir):
    result = run(seeds_dir / SEED_003)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (GOLDEN / SEED_003).read_text(encoding="utf-8")


def test_clean_with_spans_shows_the_text_as_read_and_each_rule(seeds_dir):
    result = run(seeds_dir / SEED_003, "--spans")
    assert result.returncode == 0, result.stderr
    assert "风险与机遇 2年前" in result.stdout  # removed text is shown, highlighted, in place
    for rule in ("chrome_v1:blog_counters", "emoji_rewrite_v1:rewrite_paragraph", "repeated_lines_v1",
                 "chrome_v1:related_articles"):
        assert rule in result.stdout


def test_clean_of_a_missing_file_is_one_line_exit_2(tmp_path):
    result = run(tmp_path / "missing.txt")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "not a file" in result.stderr
