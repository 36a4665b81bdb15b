"""`engine.kind: dask`: the build flow on a Dask LocalCluster gives the local engine's outputs, byte for byte.

The cluster has 2 workers as threads of the test process (`processes: false`): the partitioned tasks, the
futures passed between workers and the gathering are Dask's own; only process start-up (seconds per worker on
this machine) is left out. `test_partitions_survive_pickling` covers what process workers add: the objects
that move between them.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from cleaners.registry import batch_templates
from cleaners.templates import count_lines, merge_line_counts, template_lines
from fincorpus import partitions, pipeline, stream
from fincorpus.config import CleaningConfig, Config, EngineConfig
from fincorpus.pipeline import OUTPUT_FILES

DASK = EngineConfig(kind="dask", workers=2, processes=False, partition_files=2)
GENERATED_DOCS = 10_000


def _dask(config: Config, **engine) -> Config:
    return config.model_copy(update={"engine": DASK.model_copy(update=engine)})


@pytest.fixture(scope="module")
def generated_dir(generated_10k, tmp_path_factory) -> Path:
    """The generated 10k corpus (conftest.py) as 10 JSONL files of 1,000 documents over three sites."""
    sites = ["https://a.example/r", "https://b.example/r", "https://c.example/r"]
    frame = generated_10k.with_columns(
        pl.when(pl.col("family") % 3 == 1).then(pl.format("{}/{}", pl.lit(sites[1]), "doc_id"))
        .when(pl.col("family") % 3 == 2).then(pl.format("{}/{}", pl.lit(sites[2]), "doc_id"))
        .otherwise(pl.format("{}/{}", pl.lit(sites[0]), "doc_id")).alias("url"))
    directory = tmp_path_factory.mktemp("generated")
    size = GENERATED_DOCS // 10
    for part in range(10):
        rows = frame.slice(part * size, size).select(pl.col("doc_id").alias("id"), "text", "url")
        rows.write_ndjson(directory / f"part-{part:02d}.jsonl")
    return directory


@pytest.fixture(scope="module")
def template_config() -> Config:
    """Template lines low enough that the generated sites have some: the batch-wide rule is exercised."""
    return Config(cleaning=CleaningConfig(template_min_docs=5, template_min_share=0.02))


@pytest.fixture(scope="module")
def generated_build(generated_dir, template_config, tmp_path_factory):
    """The local engine's build of the generated corpus (`fincorpus build --no-prefect`), made once."""
    return pipeline.build([generated_dir], tmp_path_factory.mktemp("generated-local"), template_config)


def _partitioned_clean(inputs, config: Config):
    """The partitioned read and clean as plain loops: what the flow's tasks compute, without Dask."""
    raw = [partitions.read_partition(files, config) for files in partitions.partition_files(inputs, config)]
    repeated = partitions.repeated_by_partition([partitions.document_keys(part) for part in raw])
    documents = [partitions.mark_repeated(part, rows) for part, rows in zip(raw, repeated)]
    first = [partitions.first_clean(part, config) for part in documents]
    templates = partitions.templates_of([partitions.line_counts(part, config) for part in first], config)
    cleaned = partitions.concat_cleaned([partitions.finish_clean(part, templates, config) for part in first])
    return partitions.concat_documents(documents), cleaned, templates


def test_partitioned_cleaning_of_the_seeds_equals_cleaning_them_whole(seeds_dir):
    config = _dask(Config(), partition_files=2)
    documents, cleaned, _ = _partitioned_clean([seeds_dir], config)
    whole = pipeline.read_documents([seeds_dir], config)
    expected = pipeline.clean_documents(whole, config)
    assert documents == whole
    assert cleaned.documents.equals(expected.documents)
    assert cleaned.removed_spans.equals(expected.removed_spans)


def test_template_lines_counted_in_partitions_are_those_of_the_whole_batch():
    texts = [f"首页 | 研报\n正文{number}\n版权所有" for number in range(12)] + ["首页 | 研报\n别的"] * 2
    sites = ["a"] * 12 + ["b"] * 2
    config = CleaningConfig(template_min_docs=3, template_min_share=0.5)
    parts = [count_lines(texts[start:start + 5], sites[start:start + 5], config.template_max_chars)
             for start in range(0, len(texts), 5)]
    expected = template_lines(texts, sites, min_docs=3, min_share=0.5, max_line_chars=config.template_max_chars)
    assert batch_templates(merge_line_counts(parts), config) == expected == {"a": frozenset({"首页 | 研报", "版权所有"})}


def test_a_repeated_id_in_another_partition_is_quarantined_as_when_read_whole(tmp_path):
    for name, ids in (("a.jsonl", ["r1", "r2"]), ("b.jsonl", ["r3"]), ("c.jsonl", ["r2", "r4"])):
        (tmp_path / name).write_text("".join(json.dumps({"id": i, "text": f"正文{i}"}) + "\n" for i in ids),
                                     encoding="utf-8")
    config = _dask(Config(), partition_files=1)
    documents, _, _ = _partitioned_clean([tmp_path], config)
    assert documents == pipeline.read_documents([tmp_path], config)
    assert [doc.doc_id for doc in documents if doc.reason is not None] == ["c.jsonl:1"]


def test_partitions_survive_pickling(seeds_dir):
    """What process workers send each other (documents, first-pass results, line counts) pickles and comes
    back whole, and finishing the unpickled partition cleans as finishing the original does."""
    config = _dask(Config())
    raw = partitions.read_partition(partitions.partition_files([seeds_dir], config)[0], config)
    first = partitions.first_clean(raw, config)
    counts = partitions.line_counts(first, config)
    copied = pickle.loads(pickle.dumps((raw, first, counts)))
    assert copied[0] == raw and copied[2].lines.equals(counts.lines)
    again = partitions.finish_clean(copied[1], {}, config)
    assert again.documents.equals(partitions.finish_clean(first, {}, config).documents)


def test_partitions_come_to_the_writer_one_at_a_time_and_write_the_local_engines_bytes(seeds_dir, tmp_path):
    """What the flow does after the partitioned stages, as plain loops: each partition's runs are stored
    before the next partition's tables are fetched, and the streamed write gives `pipeline.build`'s bytes,
    also where a partition holds no readable document (an empty file alone in it)."""
    from fincorpus.lineage import check_accounting
    from fincorpus.partitioned_dedup import LocalExecutor

    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for seed in sorted(seeds_dir.iterdir()):
        (inputs / seed.name).write_bytes(seed.read_bytes())
    (inputs / "002_empty.txt").write_bytes(b"")
    config = _dask(Config(), partition_files=1)
    expected = pipeline.build([inputs], tmp_path / "local", config)
    raw = [partitions.read_partition(files, config) for files in partitions.partition_files([inputs], config)]
    repeated = partitions.repeated_by_partition([partitions.document_keys(part) for part in raw])
    documents = [partitions.mark_repeated(part, rows) for part, rows in zip(raw, repeated)]
    first = [partitions.first_clean(part, config) for part in documents]
    templates = partitions.templates_of([partitions.line_counts(part, config) for part in first], config)
    cleaned = [partitions.finish_clean(part, templates, config) for part in first]
    dedup = partitions.dedup_partitions([pipeline.with_content(part) for part in cleaned], config, LocalExecutor())
    work = tmp_path / "work"
    work.mkdir()
    stored = []

    def fetched():
        for part, part_cleaned in zip(documents, cleaned):
            stored.append(sorted(path.name for path in work.iterdir()))
            yield stream.run_tables(part, part_cleaned)

    runs = stream.gather_runs(work, fetched(), config.engine.stream_docs)
    assert len(documents) == 6 and any(not part.documents for part in first)
    # each partition's runs (texts as read and cleaned, each with its offsets; removed spans) stored in turn
    assert [len(names) for names in stored] == [5 * number for number in range(6)]
    index = stream.assemble_index(runs, dedup)
    check_accounting(runs.index["doc_id"].to_list(), index.lineage, index.corpus)
    stream.write_streamed(runs, index, tmp_path / "dask")
    assert (index.lineage["status"] == "dropped").sum() == 1
    for name in OUTPUT_FILES:
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name


def test_the_dask_flow_builds_the_seeds_byte_for_byte_like_the_local_engine(prefect_harness, seed_build, seeds_dir,
                                                                           tmp_path):
    from flows.build import run_build

    summary = run_build([str(seeds_dir)], str(tmp_path), _dask(Config()))
    assert summary == seed_build.summary
    for name in OUTPUT_FILES:
        assert (tmp_path / name).read_bytes() == (seed_build.out / name).read_bytes(), name


def test_the_dask_flow_gives_the_local_clusters_canonicals_and_lineage_on_a_generated_10k_corpus(
        prefect_harness, generated_dir, generated_build, template_config, tmp_path):
    """The issue's acceptance: the build flow on a 2-worker LocalCluster, 4 partitions of 3, 3, 3 and 1 files,
    against the local engine's build of the same 10,000 documents."""
    from flows.build import run_build

    summary = run_build([str(generated_dir)], str(tmp_path), _dask(template_config, partition_files=3))
    assert summary == generated_build.summary
    lineage, local_lineage = pl.read_parquet(tmp_path / "lineage.parquet"), generated_build.tables.lineage
    assert lineage.equals(local_lineage)
    assert lineage.height == GENERATED_DOCS and (lineage["status"] == "duplicate").sum() > GENERATED_DOCS // 4
    clusters = ["doc_id", "cluster_id", "member_ids"]  # canonical choices and every cluster's members
    assert pl.read_parquet(tmp_path / "corpus.parquet", columns=clusters).equals(
        generated_build.tables.corpus.select(clusters))
    spans = pl.read_parquet(tmp_path / "removed_spans.parquet", columns=["rule"])
    assert spans["rule"].str.starts_with("template_lines").any(), "batch-wide rule not exercised"
    for name in OUTPUT_FILES:
        assert (tmp_path / name).read_bytes() == (generated_build.out / name).read_bytes(), name


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "fincorpus", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def test_the_dask_engine_without_prefect_is_a_one_line_user_error(tmp_path, seeds_dir):
    result = _cli("build", seeds_dir, "--out", tmp_path / "x", "--engine", "dask", "--no-prefect")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [line for line in result.stderr.strip().splitlines()
                                                  if "drop --no-prefect" in line]


def test_an_unknown_engine_is_a_one_line_user_error(tmp_path, seeds_dir):
    result = _cli("build", seeds_dir, "--out", tmp_path / "x", "--engine", "spark", "--no-prefect")
    assert result.returncode == 2 and "unknown engine 'spark'" in result.stderr


def test_the_dask_update_flow_stores_the_seeds_like_the_plain_update(prefect_harness, seeds_dir, tmp_path):
    from fincorpus.store import StoreLayout, update
    from flows.update import run_update

    summary = run_update([str(seeds_dir)], str(tmp_path / "dask"), _dask(Config()))
    plain = update([seeds_dir], tmp_path / "plain", Config()).summary
    assert summary == plain
    assert StoreLayout(tmp_path / "dask").read_state().lineage.drop("generation").equals(
        StoreLayout(tmp_path / "plain").read_state().lineage.drop("generation"))


def test_a_served_update_reaches_the_dask_engine_through_its_subflow(prefect_harness, seeds_dir, tmp_path,
                                                                     monkeypatch):
    """A deployment calls `update_store` itself with the config as JSON (no `run_update` around it): the
    reading subflow still asks for the engine's task runner, and the store gets what a plain update gives."""
    import flows.update
    from fincorpus.store import StoreLayout, update

    asked = []
    real = flows.update.task_runner_for
    monkeypatch.setattr(flows.update, "task_runner_for", lambda engine: asked.append(engine.kind) or real(engine))
    summary = flows.update.update_store([str(seeds_dir)], str(tmp_path / "served"),
                                        _dask(Config()).model_dump(mode="json"))
    assert asked == ["dask"]
    assert summary == update([seeds_dir], tmp_path / "plain", Config()).summary
    assert StoreLayout(tmp_path / "served").read_state().lineage.drop("generation").equals(
        StoreLayout(tmp_path / "plain").read_state().lineage.drop("generation"))
