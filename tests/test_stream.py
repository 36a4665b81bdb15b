"""A streamed build writes the same bytes whatever its batch size, and the same as the in-memory stages."""

from __future__ import annotations

import gc
import os
import pickle
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.synth import generate
from fincorpus import pipeline
from fincorpus.config import CleaningConfig, Config, EngineConfig
from fincorpus.io import runs
from fincorpus.io.runs import RUN_ROW_GROUP_ROWS, RunTexts, merge_runs, write_run, write_texts
from fincorpus.io.writers import PARQUET_ROW_GROUP_ROWS, parquet_rows_atomic, write_parquet_atomic
from fincorpus.pipeline import OUTPUT_FILES, build

GENERATED_DOCS = 1000


@pytest.fixture(scope="module")
def generated_dir(tmp_path_factory) -> Path:
    """1,000 synthetic broker reports as 4 JSONL files over two sites, ids out of reading order."""
    frame = generate(GENERATED_DOCS, seed=5)
    frame = frame.with_columns(
        pl.format("https://{}.example/r/{}",
                  pl.when(pl.col("family") % 2 == 0).then(pl.lit("a")).otherwise(pl.lit("b")), "doc_id").alias("url"),
        # ids whose order is not the reading order: the runs must be merged, not concatenated
        pl.format("{}-{}", pl.col("family") % 7, "doc_id").alias("id"))
    directory = tmp_path_factory.mktemp("generated")
    for part in range(4):
        frame.slice(part * 250, 250).select("id", "text", "url").write_ndjson(directory / f"part-{part}.jsonl")
    return directory


def _config(**engine) -> Config:
    """Template lines low enough that the generated sites have some: the batch-wide rule is exercised."""
    return Config(cleaning=CleaningConfig(template_min_docs=5, template_min_share=0.02),
                  engine=EngineConfig(**engine))


def _same_bytes(first: Path, second: Path) -> None:
    for name in OUTPUT_FILES:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_a_build_in_batches_of_seven_writes_the_same_bytes_as_one_batch(generated_dir, tmp_path):
    one = build([generated_dir], tmp_path / "one", _config(stream_docs=GENERATED_DOCS * 2, local_workers=1))
    small = build([generated_dir], tmp_path / "small", _config(stream_docs=7, batch_docs=3, local_workers=2))
    _same_bytes(tmp_path / "one", tmp_path / "small")
    assert one.summary == small.summary and one.summary["duplicate"] > 0
    rules = pl.read_parquet(tmp_path / "one" / "removed_spans.parquet")["rule"]
    assert any(rule.startswith("template_lines") for rule in rules)


def test_a_streamed_build_writes_the_bytes_of_the_in_memory_stages(tmp_path, seeds_dir, generated_dir):
    config = _config(stream_docs=3)
    inputs = [seeds_dir, generated_dir / "part-0.jsonl"]
    build(inputs, tmp_path / "streamed", config)
    documents = pipeline.read_documents(inputs, config)
    cleaned = pipeline.clean_documents(documents, config)
    pipeline.write_outputs(pipeline.assemble(documents, cleaned, pipeline.dedup_documents(cleaned, config)),
                           tmp_path / "in-memory")
    _same_bytes(tmp_path / "streamed", tmp_path / "in-memory")


def test_a_rerun_rewrites_identical_bytes_and_leaves_no_work_directory(tmp_path, seeds_dir):
    build([seeds_dir], tmp_path / "out", Config(engine=EngineConfig(stream_docs=2)))
    before = {name: (tmp_path / "out" / name).read_bytes() for name in OUTPUT_FILES}
    build([seeds_dir], tmp_path / "out", Config(engine=EngineConfig(stream_docs=2)))
    assert before == {name: (tmp_path / "out" / name).read_bytes() for name in OUTPUT_FILES}
    assert [path.name for path in tmp_path.iterdir() if ".work-" in path.name] == []


def test_an_empty_input_directory_builds_empty_tables(tmp_path):
    (tmp_path / "in").mkdir()
    result = build([tmp_path / "in"], tmp_path / "out", Config())
    assert result.summary["documents_in"] == 0
    assert pl.read_parquet(tmp_path / "out" / "corpus.parquet").height == 0


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 2 * PARQUET_ROW_GROUP_ROWS + 5), min_size=1, max_size=4))
def test_a_table_written_in_frames_of_any_size_has_the_bytes_of_one_frame(tmp_path_factory, cuts):
    directory = tmp_path_factory.mktemp("rows")
    rows = sum(cuts)
    frame = pl.DataFrame({"doc_id": [f"d{row:05d}" for row in range(rows)], "n": list(range(rows))})
    write_parquet_atomic(frame, directory / "whole.parquet")
    with parquet_rows_atomic(directory / "parts.parquet", dict(frame.schema)) as writer:
        start = 0
        for size in cuts:
            writer.write(frame.slice(start, size))
            start += size
    assert (directory / "whole.parquet").read_bytes() == (directory / "parts.parquet").read_bytes()
    assert pl.read_parquet(directory / "parts.parquet").equals(frame)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=1, max_size=700), st.integers(1, 300), st.randoms(use_true_random=False))
def test_runs_merge_into_global_order_in_chunks_of_any_size(tmp_path_factory, rows_per_key, chunk, random):
    """Keys spread over runs at random (each run sorted), each key with 0-4 rows: the merge is the global sort."""
    directory = tmp_path_factory.mktemp("runs")
    keys = [f"k{key:04d}" for key in range(len(rows_per_key))]
    run_of = [random.randrange(3) for _ in keys]
    frames = {run: pl.DataFrame({"doc_id": [key for key, r, n in zip(keys, run_of, rows_per_key) if r == run
                                            for _ in range(n)],
                                 "start": [index for key, r, n in zip(keys, run_of, rows_per_key) if r == run
                                           for index in range(n)]}, schema={"doc_id": pl.String, "start": pl.Int64})
              for run in range(3)}
    paths = []
    for run, frame in frames.items():
        paths.append(directory / f"run-{run}.parquet")
        write_run(frame, paths[-1])
    order = pl.DataFrame({"run": run_of, "rows": rows_per_key})
    merged = pl.concat(list(merge_runs(paths, order, ("doc_id", "start"), chunk)))
    assert merged.equals(pl.concat(frames.values()).sort("doc_id", "start"))


def test_run_texts_read_any_position_like_a_list_and_pickle_without_their_offsets(tmp_path):
    """Texts of two files (empty strings, nulls and non-BMP characters among them) in a random order."""
    texts = [f"正文{index}𠀋" * (index % 5) if index % 7 else None for index in range(3 * RUN_ROW_GROUP_ROWS + 7)]
    halves = (texts[:100], texts[100:])
    for number, half in enumerate(halves):
        write_texts(pa.chunked_array([pa.array(half[:40], pa.string()), pa.array(half[40:], pa.string())]),
                    tmp_path / f"texts-{number}.utf8")
    positions = np.random.default_rng(0).permutation(len(texts))
    lazy = RunTexts([tmp_path / "texts-0.utf8", tmp_path / "texts-1.utf8"], (positions >= 100).astype(int),
                    np.where(positions >= 100, positions - 100, positions))
    expected = [texts[position] for position in positions]
    assert len(lazy) == len(expected) and list(lazy) == expected
    assert lazy[-1] == expected[-1] and lazy[5:9] == expected[5:9]
    assert list(pickle.loads(pickle.dumps(lazy))) == expected
    with pytest.raises(IndexError):
        lazy[len(texts)]


def test_run_texts_keep_a_few_files_open_per_thread_and_close_them_all(tmp_path, monkeypatch):
    """Texts of five runs read in a random order by three threads at once, each keeping two files open: every
    text is right, and no file stays open once the threads and the sequence are gone."""
    monkeypatch.setattr(runs, "_OPEN_RUNS", 2)
    texts = [f"第{index}段正文𠀋" * (1 + index % 3) for index in range(250)]
    for number in range(5):
        write_texts(pa.array(texts[50 * number:50 * number + 50], pa.string()), tmp_path / f"texts-{number}.utf8")
    positions = np.random.default_rng(2).permutation(len(texts))
    open_before = len(os.listdir("/proc/self/fd"))
    lazy = RunTexts([tmp_path / f"texts-{number}.utf8" for number in range(5)], positions // 50, positions % 50)

    def read(position: int) -> tuple[str, int]:
        return lazy[position], len(os.listdir("/proc/self/fd"))

    with ThreadPoolExecutor(3) as pool:
        read, open_counts = zip(*pool.map(read, range(len(lazy))))
    assert list(read) == [texts[position] for position in positions]
    assert max(open_counts) <= open_before + 3 * (2 + 1)  # per thread: two runs, and its listing
    assert lazy[0] == texts[positions[0]] and len(os.listdir("/proc/self/fd")) == open_before + 1
    del lazy
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) == open_before


def test_run_texts_give_a_range_of_positions_as_one_arrow_array(tmp_path):
    """Rows of two files in doc_id-merge order (consecutive rows of each, interleaved) and in any order."""
    texts = [f"正文{index}𠀋" * (index % 5) if index % 7 else None for index in range(300)]
    for number, part in enumerate((texts[:120], texts[120:])):
        write_texts(pa.array(part, pa.string()), tmp_path / f"texts-{number}.utf8")
    paths = [tmp_path / "texts-0.utf8", tmp_path / "texts-1.utf8"]
    merged = sorted(range(300), key=lambda position: (position % 120 if position < 120 else position - 120, position))
    shuffled = list(np.random.default_rng(1).permutation(300))
    for positions in (list(range(300)), merged, shuffled):
        runs = np.array([int(position >= 120) for position in positions])
        lazy = RunTexts(paths, runs, np.array([position - 120 * run for position, run in zip(positions, runs)]))
        for start, stop in ((0, 300), (0, 0), (7, 131), (250, 300)):
            column = lazy.column(start, stop)
            assert column.type == pa.large_string()
            assert column.to_pylist() == [texts[position] for position in positions[start:stop]]
