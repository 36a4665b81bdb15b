"""The Prefect flow, once, under Prefect's test harness (one server for the whole session)."""

import hashlib

from fincorpus.config import Config
from fincorpus.pipeline import OUTPUT_FILES


def test_build_flow_gives_the_same_outputs_as_the_plain_build(prefect_harness, seed_build, seeds_dir, tmp_path):
    from flows.build import build_corpus

    summary = build_corpus([str(seeds_dir)], str(tmp_path), Config())
    assert summary == seed_build.summary
    for name in OUTPUT_FILES:
        assert hashlib.sha256((tmp_path / name).read_bytes()).digest() == \
            hashlib.sha256((seed_build.out / name).read_bytes()).digest(), name
