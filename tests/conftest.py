from __future__ import annotations

from pathlib import Path

import pytest

from fincorpus.config import Config

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO.parent / "shared" / "seeds"
CORPUS = REPO.parent / "shared" / "corpus" / "headlines_and_report_titles.parquet"

SEED_000 = "000_026009f8569fc96f.txt"  # aggregator preview of the Shanghai Securities report
SEED_001 = "001_a827ffee9d47bcba.txt"  # the same report, full Markdown extraction
SEED_002 = "002_d93c7f2a66dc0b4e.txt"  # a different report (东吴证券) on another aggregator
SEED_003 = "003_cb169cef46f2226b.txt"  # blog repost of the Huatai report, emoji rewrite and ads
SEED_004 = "004_c3137f6acd23163d.txt"  # the Huatai report itself


def seed_text(name: str) -> str:
    return (SEEDS / name).read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    if not SEEDS.is_dir():
        pytest.fail(f"the seed documents are missing: expected {SEEDS} (shared/ beside the checkout)")
    return SEEDS


@pytest.fixture()
def config() -> Config:
    return Config()


@pytest.fixture(scope="session")
def seed_build(tmp_path_factory, seeds_dir):
    """One plain (no Prefect) build of the seeds, shared by the tests that only read its outputs."""
    from fincorpus.pipeline import build

    out = tmp_path_factory.mktemp("seed-build")
    return build([seeds_dir], out, Config())


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory):
    """Prefect's test server, started once per session (about 15 s) for the few flow tests."""
    import os

    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect-home"))
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    from prefect.testing.utilities import prefect_test_harness

    # A loaded 2-core machine can take well over Prefect's default 30 s to start the server (migrations).
    with prefect_test_harness(server_startup_timeout=300):
        yield


@pytest.fixture(scope="session")
def generated_10k():
    """10,000 generated documents (`bench/synth.py`: families of a report's forms, hard negatives) cut to their
    first 2,500 characters, a quarter of their length, so that the suite stays fast (previews, reposts and
    edited copies still meet their originals there): doc_id, family, text."""
    import polars as pl

    from bench.synth import generate

    return generate(10_000, seed=7).select("doc_id", "family", pl.col("text").str.slice(0, 2500))
