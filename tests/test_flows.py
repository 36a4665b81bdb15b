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


def test_update_flow_adds_a_batch_like_the_plain_update_and_serves_on_the_given_schedule(prefect_harness, tmp_path):
    from fincorpus.store import StoreLayout, update
    from flows.serve import deployment
    from flows.update import update_store

    from conftest import SEED_000, SEED_001, SEEDS

    batch = [str(SEEDS / SEED_000), str(SEEDS / SEED_001)]
    summary = update_store(batch, str(tmp_path / "flow"), Config().model_dump(mode="json"))
    plain = update(batch, tmp_path / "plain", Config()).summary
    assert summary == plain
    assert StoreLayout(tmp_path / "flow").read_state().lineage.drop("generation").equals(
        StoreLayout(tmp_path / "plain").read_state().lineage.drop("generation"))

    served = deployment(tmp_path / "watch", tmp_path / "flow", Config(), cron="0 */4 * * *")
    assert [schedule.schedule.cron for schedule in served.schedules] == ["0 */4 * * *"]
    assert served.parameters["inputs"] == [str(tmp_path / "watch")]
    assert served.concurrency_limit == 1
