"""The corpus store: batches added one after another, against what is stored, safely and repeatably."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fincorpus.config import Config
from fincorpus.errors import UserError
from fincorpus.io.writers import verify_manifest
from fincorpus.store import StoreLayout, export_store, update
from fincorpus.store.export import store_tables

from conftest import REPO, SEED_000, SEED_001, SEED_002, SEED_003, SEED_004, SEEDS

CLUSTER_COLUMNS = ["doc_id", "status", "reason", "cluster_id", "canonical_id"]


def seeds(*names: str) -> list[Path]:
    return [SEEDS / name for name in names]


def snapshot(store: Path) -> dict[str, str]:
    """Every file of the store (lock files aside) with its hash."""
    return {str(path.relative_to(store)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(store.rglob("*")) if path.is_file() and not path.name.endswith(".lock")}


def lineage_of(store: Path) -> dict[str, dict]:
    lineage = StoreLayout(store).read_state().lineage
    return {row["doc_id"]: row for row in lineage.iter_rows(named=True)}


@pytest.fixture()
def two_batches(tmp_path: Path) -> Path:
    """A store after the full reports 001, 002 and the blog repost 003, then the preview 000 and the report 004."""
    store = tmp_path / "store"
    update(seeds(SEED_001, SEED_002, SEED_003), store, Config())
    update(seeds(SEED_000, SEED_004), store, Config())
    return store


def test_three_batches_preview_joins_its_report_report_supersedes_its_repost_and_a_repeat_is_a_no_op(tmp_path):
    store = tmp_path / "store"
    first = update(seeds(SEED_001, SEED_002, SEED_003), store, Config())
    assert first.summary["canonical"] == 3 and first.generation == 1
    second = update(seeds(SEED_000, SEED_004), store, Config())
    rows = lineage_of(store)
    # the preview arrives after its report: a duplicate of the stored canonical, contained in it
    assert rows[SEED_000]["status"] == "duplicate" and rows[SEED_000]["reason"] == "contained"
    assert rows[SEED_000]["canonical_id"] == SEED_001 and rows[SEED_001]["status"] == "canonical"
    # the report arrives after its repost: it becomes the canonical, and the repost's row says so
    assert rows[SEED_004]["status"] == "canonical"
    assert rows[SEED_003]["status"] == "duplicate" and rows[SEED_003]["canonical_id"] == SEED_004
    assert "superseded in generation 2" in rows[SEED_003]["detail"]
    assert rows[SEED_003]["cluster_id"] == rows[SEED_004]["cluster_id"]
    assert rows[SEED_002]["status"] == "canonical" and rows[SEED_002]["cluster_id"] != rows[SEED_001]["cluster_id"]
    assert second.summary["superseded"] == 1 and second.generation == 2
    assert second.summary["stored_compared"] == 2  # 001 and 003, the clusters the batch touched; 002 stays unread
    assert {row["generation"] for row in rows.values()} == {1, 2}

    before = snapshot(store)
    third = update(seeds(SEED_000, SEED_004), store, Config())
    assert not third.changed and third.generation == 2
    assert third.summary["already_stored"] == 2 and third.summary["added"] == 0
    assert snapshot(store) == before
    assert not (store / "generations" / "000003").exists()


def test_a_sequence_of_updates_exports_the_same_clusters_as_one_build(two_batches, seed_build, tmp_path):
    exported = export_store(two_batches, tmp_path / "exported")
    assert exported.tables.corpus.equals(seed_build.tables.corpus)
    assert exported.tables.removed_spans.equals(seed_build.tables.removed_spans)
    assert exported.tables.documents.equals(seed_build.tables.documents)
    built = seed_build.tables.lineage
    assert exported.tables.lineage.drop("detail").equals(built.drop("detail"))
    details = dict(zip(exported.tables.lineage["doc_id"], exported.tables.lineage["detail"]))
    assert details[SEED_003] == f"contained of {SEED_004} (superseded in generation 2, was canonical)"
    assert {doc_id: detail for doc_id, detail in details.items() if doc_id != SEED_003} == \
        {doc_id: detail for doc_id, detail in zip(built["doc_id"], built["detail"]) if doc_id != SEED_003}
    assert exported.summary == seed_build.summary
    assert verify_manifest(tmp_path / "exported") == []


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations([SEED_000, SEED_001, SEED_002, SEED_003, SEED_004]), cuts=st.sets(st.integers(1, 4)))
def test_any_split_of_the_seeds_into_batches_gives_the_build_clusters(order, cuts, seed_build, tmp_path_factory):
    store = tmp_path_factory.mktemp("split") / "store"
    bounds = [0, *sorted(cuts), 5]
    for start, end in zip(bounds, bounds[1:]):
        update(seeds(*order[start:end]), store, Config())
    tables = store_tables(store)
    assert tables.lineage.select(CLUSTER_COLUMNS).equals(seed_build.tables.lineage.select(CLUSTER_COLUMNS))
    assert tables.corpus.equals(seed_build.tables.corpus)


def test_a_changed_document_under_a_stored_id_is_quarantined_never_merged(tmp_path):
    store = tmp_path / "store"
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    (first / "a.txt").write_text("华泰证券研究所发布人工智能产业深度报告，认为大模型将带来范式革命。" * 3, encoding="utf-8")
    (second / "a.txt").write_text("东吴证券传媒行业周报：AI应用加速落地，关注内容与渠道。" * 3, encoding="utf-8")
    update([first], store, Config())
    stored = lineage_of(store)["a.txt"]
    result = update([second], store, Config())
    assert result.changed and result.summary["rejected"] == 1 and result.summary["added"] == 0
    refused = result.batch.row(by_predicate=pl.col("doc_id") == "a.txt", named=True)
    assert refused["status"] == "quarantined" and refused["reason"] == "changed_content"
    assert "give the new version its own id" in refused["detail"]
    assert lineage_of(store)["a.txt"] == stored
    assert not update([second], store, Config()).changed  # the refusal is remembered: a repeat is a no-op


def test_a_failure_between_writing_and_switching_leaves_the_store_unchanged_and_the_next_run_completes(
        two_batches, monkeypatch, tmp_path):
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "c.txt").write_text("上海证券：传媒行业2023年展望，短视频与游戏板块估值修复。" * 3, encoding="utf-8")
    before = snapshot(two_batches)

    def fail(*args, **kwargs):
        raise OSError(5, "Input/output error (injected)")

    monkeypatch.setattr(StoreLayout, "commit", fail)
    with pytest.raises(UserError, match="injected"):
        update([extra], two_batches, Config())
    assert (two_batches / "generations" / "000003").is_dir()  # written, never switched in
    assert StoreLayout(two_batches).read_state().generation == 2
    monkeypatch.undo()

    result = update([extra], two_batches, Config())
    assert result.generation == 3 and result.summary["added"] == 1
    assert lineage_of(two_batches)["c.txt"]["status"] == "canonical"
    unchanged = {name: digest for name, digest in snapshot(two_batches).items() if name in before}
    assert {name: digest for name, digest in before.items() if not name.startswith("state/")} == \
        {name: digest for name, digest in unchanged.items() if not name.startswith("state/")}
    assert verify_manifest(two_batches / "state") == []
    assert verify_manifest(two_batches / "generations" / "000003") == []


def test_the_update_flow_retries_a_store_write_that_fails_once_and_not_a_busy_store(prefect_harness, two_batches,
                                                                                      monkeypatch, tmp_path):
    from flows.update import update_store

    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "c.txt").write_text("上海证券：传媒行业2023年展望，短视频与游戏板块估值修复。" * 3, encoding="utf-8")
    commits = []
    original = StoreLayout.commit

    def flaky(self, state):
        commits.append(state.generation)
        if len(commits) == 1:
            raise OSError(5, "Input/output error (injected)")
        return original(self, state)

    monkeypatch.setattr(StoreLayout, "commit", flaky)
    with StoreLayout(two_batches).locked(), pytest.raises(UserError, match="another fincorpus update is running"):
        update_store([str(extra)], str(two_batches), Config())
    assert commits == []  # refused at the lock, and not tried again
    summary = update_store([str(extra)], str(two_batches), Config())
    assert commits == [3, 3] and summary["generation"] == 3 and summary["added"] == 1


def test_an_update_killed_before_its_switch_leaves_the_previous_generation(two_batches, tmp_path):
    """A real process, SIGKILLed at the switch (no sleeps: it says where it is and waits)."""
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "c.txt").write_text("上海证券：传媒行业2023年展望，短视频与游戏板块估值修复。" * 3, encoding="utf-8")
    before = lineage_of(two_batches)
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys
        from fincorpus.config import Config
        from fincorpus.store import StoreLayout, update
        def wait(*args, **kwargs):
            print("at the switch", flush=True)
            sys.stdin.readline()
        StoreLayout.commit = wait
        update([{str(extra)!r}], {str(two_batches)!r}, Config())
    """)], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "at the switch"
    finally:
        child.kill()
        child.wait()
    assert lineage_of(two_batches) == before
    result = update([extra], two_batches, Config())
    assert result.generation == 3 and "c.txt" in lineage_of(two_batches)


def test_a_second_concurrent_update_is_refused_with_one_line(two_batches):
    with StoreLayout(two_batches).locked():
        with pytest.raises(UserError, match="another fincorpus update is running") as refused:
            update(seeds(SEED_002), two_batches, Config())
    assert "\n" not in str(refused.value)


def test_a_store_built_with_other_dedup_settings_is_refused(two_batches):
    other = Config.model_validate({"dedup": {"num_perm": 64}})
    with pytest.raises(UserError, match="dedup.num_perm"):
        update(seeds(SEED_002), two_batches, other)


def test_a_store_from_before_a_setting_existed_takes_it_at_its_default_and_refuses_another_value(two_batches,
                                                                                                 tmp_path):
    """Upgrading fincorpus adds settings: an older store's store.json lacks them."""
    repost = tmp_path / "inbox" / "repost.txt"
    repost.parent.mkdir()
    repost.write_bytes((SEEDS / SEED_002).read_bytes())
    settings_path = two_batches / "store.json"
    stored = json.loads(settings_path.read_text(encoding="utf-8"))
    del stored["dedup"]["candidate_p_value"], stored["rules"]
    stored["dedup"]["a_setting_since_dropped"] = 1
    settings_path.write_text(json.dumps(stored), encoding="utf-8")
    other = Config.model_validate({"dedup": {"candidate_p_value": 0.01}})
    with pytest.raises(UserError, match=r"dedup.candidate_p_value=None"):
        update([repost], two_batches, other)
    assert update([repost], two_batches, Config()).summary["added"] == 1


def test_a_store_of_a_later_layout_format_is_refused(two_batches):
    settings_path = two_batches / "store.json"
    stored = json.loads(settings_path.read_text(encoding="utf-8"))
    settings_path.write_text(json.dumps(stored | {"format": 99}), encoding="utf-8")
    with pytest.raises(UserError, match="layout format 99"):
        update(seeds(SEED_002), two_batches, Config())


def test_a_foreign_directory_is_never_used_as_a_store(tmp_path):
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(UserError, match="not a fincorpus store"):
        update(seeds(SEED_002), tmp_path, Config())
    assert sorted(path.name for path in tmp_path.iterdir()) == [".update.lock", "notes.txt"]


def test_exporting_a_store_that_holds_nothing_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no committed generation"):
        export_store(tmp_path / "empty", tmp_path / "out")


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "fincorpus", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, timeout=300)


def test_cli_update_twice_then_export(tmp_path):
    store = tmp_path / "store"
    first = run_cli("update", SEEDS / SEED_002, "--store", store, "--no-prefect")
    assert first.returncode == 0, first.stderr
    assert "generation 1" in first.stdout and "generations/000001/report.md" in first.stdout
    again = run_cli("update", SEEDS / SEED_002, "--store", store, "--no-prefect")
    assert again.returncode == 0 and "nothing new: the store is unchanged" in again.stdout
    exported = run_cli("export", "--store", store, "--out", tmp_path / "out")
    assert exported.returncode == 0, exported.stderr
    assert pl.read_parquet(tmp_path / "out" / "corpus.parquet")["doc_id"].to_list() == [SEED_002]


def test_cli_refuses_a_second_concurrent_update_with_one_line_exit_2(two_batches):
    with StoreLayout(two_batches).locked():
        result = run_cli("update", SEEDS / SEED_002, "--store", two_batches, "--no-prefect")
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "another fincorpus update is running" in errors[0]
    assert "Traceback" not in result.stderr


def test_cli_serve_needs_exactly_one_schedule(tmp_path):
    result = run_cli("serve", "--watch", tmp_path, "--store", tmp_path / "store")
    assert result.returncode == 2 and "pass exactly one schedule" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_serve_without_a_prefect_server_says_how_to_start_one(tmp_path):
    (tmp_path / "scraped").mkdir()
    result = run_cli("serve", "--watch", tmp_path / "scraped", "--store", tmp_path / "store", "--interval", "60")
    assert result.returncode == 2 and "prefect server start" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("inputs", "store"), [("scraped", "scraped/store"), ("store/new", "store")])
def test_cli_update_refuses_a_store_inside_its_inputs_and_inputs_inside_the_store(tmp_path, inputs, store):
    (tmp_path / inputs).mkdir(parents=True)
    (tmp_path / inputs / "a.txt").write_text("正文。" * 30, encoding="utf-8")
    result = run_cli("update", tmp_path / inputs, "--store", tmp_path / store, "--no-prefect")
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "--store" in errors[0] and "overlaps INPUT" in errors[0]
    assert "Traceback" not in result.stderr and not (tmp_path / store / "store.json").exists()


def test_update_accepts_a_hidden_store_inside_its_input_which_is_never_read(tmp_path):
    (tmp_path / "scraped").mkdir()
    (tmp_path / "scraped" / SEED_002).write_bytes((SEEDS / SEED_002).read_bytes())
    update([tmp_path / "scraped"], tmp_path / "scraped" / ".store", Config())
    again = update([tmp_path / "scraped"], tmp_path / "scraped" / ".store", Config())
    assert not again.changed and again.summary["inputs"] == 1


def test_serve_refuses_a_store_inside_the_watched_directory(tmp_path):
    result = run_cli("serve", "--watch", tmp_path, "--store", tmp_path / "store", "--interval", "60")
    assert result.returncode == 2 and "--store" in result.stderr and "overlaps INPUT" in result.stderr


def test_each_update_writes_a_batch_report_page_that_shows_its_clusters(two_batches):
    """Issue 8: report.html with every build and update; the batch page lists the batch's merges."""
    pages = sorted(two_batches.glob("generations/*/report.html"))
    assert len(pages) == 2
    second = pages[-1].read_text(encoding="utf-8")
    assert "<meta charset" in second.lower()
    assert SEED_000 in second and SEED_001 in second  # the preview of batch 2 merged into 001 of batch 1


@pytest.fixture(scope="module")
def generated_batches(tmp_path_factory) -> tuple[Path, Path, Path]:
    """600 generated documents (`bench.synth`: every form of a report, shuffled): 500 stored, then 100."""
    from bench.synth import generate

    work = tmp_path_factory.mktemp("generated")
    corpus = generate(600, seed=11).select(pl.col("doc_id").alias("id"), "text")
    corpus.head(500).write_parquet(work / "stored.parquet")
    corpus.tail(100).write_parquet(work / "batch.parquet")
    corpus.write_parquet(work / "all.parquet")
    return work / "stored.parquet", work / "batch.parquet", work / "all.parquet"


def _counting_verification(monkeypatch) -> dict[str, list[int]]:
    """Record, per run, how many pairs the engine would verify over all the documents it is given (stored and
    new: proposed by its index, left by the signature check) and how many it verifies."""
    from fincorpus.dedup import engine

    counts: dict[str, list[int]] = {"proposed": [], "verified": []}
    propose, check, verify = engine.candidate_pairs, engine.plausible_pairs, engine.verify_pairs
    every: dict[str, object] = {}

    def proposed(*args, fresh=None, **kwargs):
        every["pairs"] = propose(*args, **kwargs)
        return propose(*args, fresh=fresh, **kwargs)

    def plausible(pairs, *args, **kwargs):
        counts["proposed"].append(len(check(every["pairs"], *args, **kwargs)))
        return check(pairs, *args, **kwargs)

    def verified(pairs, *args, **kwargs):
        counts["verified"].append(len(pairs))
        return verify(pairs, *args, **kwargs)

    monkeypatch.setattr(engine, "candidate_pairs", proposed)
    monkeypatch.setattr(engine, "plausible_pairs", plausible)
    monkeypatch.setattr(engine, "verify_pairs", verified)
    return counts


def test_an_update_verifies_only_pairs_holding_a_new_document_and_settles_as_a_build(generated_batches, tmp_path,
                                                                                     monkeypatch):
    """Issue 7: stored pairs are not verified again: each generation keeps the edges it verified, and the
    next update settles with them."""
    stored, batch, everything = generated_batches
    store = tmp_path / "store"
    update([stored], store, Config())
    counts = _counting_verification(monkeypatch)
    result = update([batch], store, Config())
    assert result.summary["stored_compared"] > 0
    assert counts["verified"][0] < counts["proposed"][0]  # pairs of two stored documents are left out
    cleaned_now = {doc_id for doc_id, row in lineage_of(store).items() if row["cleaned_in"] == 2}
    assert set(pl.read_parquet(batch)["id"].to_list()) < cleaned_now  # with stored documents cleaned again
    edges = pl.read_parquet(store / "generations" / "000002" / "edges.parquet")
    assert edges.height > 0  # every edge verified now holds a document cleaned now
    pairs = edges.select("left_id", "right_id").rows()
    assert all(left in cleaned_now or right in cleaned_now for left, right in pairs)
    first_edges = pl.read_parquet(store / "generations" / "000001" / "edges.parquet")
    assert first_edges.height > 0 and not first_edges.filter(pl.col("left_id") >= pl.col("right_id")).height

    from fincorpus.pipeline import build

    built = build([everything], tmp_path / "built", Config()).tables.lineage
    assert store_tables(store).lineage.select(CLUSTER_COLUMNS).equals(built.select(CLUSTER_COLUMNS))


def test_a_store_without_edge_tables_verifies_stored_pairs_again_with_the_same_result(generated_batches, tmp_path,
                                                                                      monkeypatch):
    """A store written before generations kept their edges: its pairs are all verified again, into the same
    clusters (the scores of a pair verified again may differ in the last places: the boilerplate shingles
    are those of the documents compared together)."""
    stored, batch, _ = generated_batches
    with_edges, without = tmp_path / "with", tmp_path / "without"
    for store in (with_edges, without):
        update([stored], store, Config())
    (without / "generations" / "000001" / "edges.parquet").unlink()
    update([batch], with_edges, Config())
    counts = _counting_verification(monkeypatch)
    update([batch], without, Config())
    assert counts["verified"] == counts["proposed"]
    assert store_tables(without).lineage.select(CLUSTER_COLUMNS).equals(
        store_tables(with_edges).lineage.select(CLUSTER_COLUMNS))


def test_a_store_refuses_an_update_after_its_rule_file_changed(tmp_path):
    """The store keeps a digest of each rule set's content: stored texts were cleaned with it."""
    rules = tmp_path / "site.yaml"
    rules.write_text("chrome:\n  - id: footer\n    pattern: '^本站声明.*$'\n    kind: line\n", encoding="utf-8")
    config = Config.model_validate({"cleaning": {"rules": ["generic", str(rules)]}})
    store = tmp_path / "store"
    update(seeds(SEED_001), store, config)
    assert set(json.loads((store / "store.json").read_text(encoding="utf-8"))["rules"]) == {"generic", str(rules)}
    rules.write_text("# reformatted, same rules\nchrome:\n- {id: footer, pattern: '^本站声明.*$', kind: line}\n",
                     encoding="utf-8")
    assert update(seeds(SEED_002), store, config).changed  # the same rules in another layout
    rules.write_text("chrome:\n  - id: footer\n    pattern: '^本站.*$'\n    kind: line\n", encoding="utf-8")
    with pytest.raises(UserError, match=f"rule set '{rules}'.*has changed"):
        update(seeds(SEED_003), store, config)
