"""A store's dedup index in its shared homes: band tables in Parquet, datasketch's MinHashLSH on Redis.

The Redis tests start a real `redis-server` (Debian package `redis-server`) on a free loopback port and stop
it after the module; without the binary they are skipped with a message saying what to install.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from bench.synth import generate
from fincorpus.config import Config
from fincorpus.dedup.incremental import band_shape, stored_candidates
from fincorpus.errors import UserError
from fincorpus.store import StoreLayout, update
from fincorpus.store.shared_index import band_table, open_index, touched_documents
from fincorpus.store.update import sign_documents

from conftest import SEED_000, SEED_001, SEED_002, SEED_003, SEED_004, SEEDS

BATCHES = ([SEED_001, SEED_002, SEED_003], [SEED_000, SEED_004])


def _config(backend: str = "parquet", **index) -> Config:
    return Config.model_validate({"store": {"index": {"backend": backend, **index}}})


@pytest.fixture(scope="module")
def generated_batches(tmp_path_factory) -> list[Path]:
    """300 generated documents (families of report forms) in three batches of JSONL."""
    frame = generate(300, seed=5).select(pl.col("doc_id").alias("id"), "text").sample(fraction=1.0, seed=2)
    directory = tmp_path_factory.mktemp("generated-batches")
    paths = []
    for number in range(3):
        path = directory / f"batch-{number}.jsonl"
        frame.slice(number * 100, 100).write_ndjson(path)
        paths.append(path)
    return paths


def _run(batches, store: Path, config: Config) -> pl.DataFrame:
    for batch in batches:
        update(batch if isinstance(batch, list) else [batch], store, config)
    return StoreLayout(store).read_state().lineage


def _seed_batches():
    return [[SEEDS / name for name in names] for names in BATCHES]


def test_each_generation_keeps_the_band_table_of_its_signatures(tmp_path):
    _run(_seed_batches(), tmp_path, _config())
    layout = StoreLayout(tmp_path)
    for number in (1, 2):
        bands = pl.read_parquet(layout.generation_dir(number) / "bands.parquet")
        signed = pl.read_parquet(layout.generation_dir(number) / "signatures.parquet")
        assert bands.equals(band_table(signed, Config()))
        assert set(bands["doc_id"]) == set(signed.filter(pl.col("shingles") > 0)["doc_id"])


def test_the_band_tables_find_the_stored_documents_the_signature_join_finds(generated_batches, tmp_path):
    """Looking up the band tables equals joining the batch's band keys with every stored signature held in
    memory (`stored_candidates`, what `update` did before band tables), on a corpus with many candidates."""
    config = _config()
    _run(generated_batches[:2], tmp_path, config)
    layout = StoreLayout(tmp_path)
    stored = pl.read_parquet(layout.parts("signatures.parquet", 2)).filter(pl.col("shingles") > 0)
    texts = pl.read_ndjson(generated_batches[2])
    new = sign_documents(texts["id"].to_list(), texts["text"].to_list(), config)
    compared = new.filter(pl.col("shingles") > 0)
    pairs = stored_candidates(compared["signature"].to_numpy(), compared["shingles"].to_numpy(),
                              stored["signature"].to_numpy(), stored["shingles"].to_numpy(),
                              config.store.index_threshold, config.dedup.candidate_threshold)
    exact = set(stored.filter(pl.col("exact_hash").is_in(new["exact_hash"].implode()))["doc_id"])
    expected = exact | set(stored["doc_id"].gather(pairs[:, 1]).to_list())
    assert len(expected) > 20
    assert touched_documents(new, layout, open_index(layout, config), 2, config) == expected


def test_a_generation_without_a_band_table_is_banded_from_its_signatures(generated_batches, tmp_path):
    with_tables = _run(generated_batches, tmp_path / "tables", _config())
    _run(generated_batches[:2], tmp_path / "older", _config())
    for number in (1, 2):  # a store written before band tables existed
        (StoreLayout(tmp_path / "older").generation_dir(number) / "bands.parquet").unlink()
    assert _run(generated_batches[2:], tmp_path / "older", _config()).drop("generation").equals(
        with_tables.drop("generation"))


def test_switching_the_index_backend_of_a_store_is_not_a_settings_change(tmp_path):
    _run(_seed_batches()[:1], tmp_path, _config())
    StoreLayout(tmp_path).open(_config("redis", redis_url="redis://127.0.0.1:1/0"), create=False)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """A throwaway redis-server on a free loopback port, no persistence; stopped after the module."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (Debian: apt-get install redis-server): Redis index untested")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    directory = tmp_path_factory.mktemp("redis")
    log = directory / "redis.log"
    server = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                               "no", "--dir", str(directory), "--logfile", str(log)])
    try:
        _wait_until_ready(server, port, log)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait_until_ready(server: subprocess.Popen, port: int, log: Path) -> None:
    """Until the server answers a ping (a loaded machine may take seconds), or fail with its log."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
    for _ in range(600):
        try:
            client.ping()
            return
        except redis.ConnectionError:
            try:
                server.wait(timeout=0.1)  # returns only if the server has exited
            except subprocess.TimeoutExpired:
                continue
            break
    text = log.read_text() if log.is_file() else ""
    raise RuntimeError(f"redis-server did not start (exit {server.poll()}):\n{text[-2000:]}")


def test_updates_with_the_redis_index_settle_the_clusters_the_band_tables_settle(redis_url, generated_batches,
                                                                                 tmp_path):
    parquet = _run(generated_batches, tmp_path / "parquet", _config())
    redis_config = _config("redis", redis_url=redis_url, redis_prefix="t-same")
    assert _run(generated_batches, tmp_path / "redis", redis_config).equals(parquet)
    assert (parquet["status"] == "duplicate").sum() > 50
    index = open_index(StoreLayout(tmp_path / "redis"), redis_config)
    assert index.indexed_generation() == 3
    # a document cleaned again (its template lines changed) has signature rows in two generations, one key
    stored = pl.concat([pl.read_parquet(path).filter(pl.col("shingles") > 0)
                        for path in StoreLayout(tmp_path / "redis").parts("signatures.parquet", 3)])["doc_id"].n_unique()
    assert len(index.lsh.keys.keys()) == stored
    assert not (StoreLayout(tmp_path / "redis").generation_dir(1) / "bands.parquet").exists()


def test_a_store_switched_to_redis_fills_the_index_from_its_generations(redis_url, tmp_path):
    plain = _run(_seed_batches(), tmp_path / "plain", _config())
    _run(_seed_batches()[:1], tmp_path / "switched", _config())
    switched = _run(_seed_batches()[1:], tmp_path / "switched", _config("redis", redis_url=redis_url))
    assert switched.equals(plain)
    assert switched.filter(pl.col("doc_id") == SEED_000)["canonical_id"].to_list() == [SEED_001]
    assert open_index(StoreLayout(tmp_path / "switched"), _config("redis", redis_url=redis_url)
                      ).indexed_generation() == 2


def test_an_index_ahead_of_its_store_is_rebuilt_from_the_store(redis_url, tmp_path):
    """A store deleted and built again under the same prefix: stale entries never propose anything."""
    config = _config("redis", redis_url=redis_url, redis_prefix="t-rebuilt")
    _run(_seed_batches(), tmp_path / "first", config)
    _run(_seed_batches()[1:], tmp_path / "second", config)  # generation 1 of another store, same prefix
    index = open_index(StoreLayout(tmp_path / "second"), config)
    assert index.indexed_generation() == 1
    assert sorted(key.decode() for key in index.lsh.keys.keys()) == [SEED_000, SEED_004]


def test_an_unreachable_redis_index_is_a_one_line_user_error(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(UserError, match="cannot use the store's Redis index .* store.index.backend: parquet"):
        update([SEEDS / SEED_001], tmp_path, _config("redis", redis_url=f"redis://127.0.0.1:{port}/0"))


def test_a_malformed_redis_url_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="not a Redis URL"):
        update([SEEDS / SEED_001], tmp_path, _config("redis", redis_url="http://nowhere"))


def test_band_table_rows_are_one_per_band_of_each_document_with_shingles():
    signed = pl.DataFrame({"doc_id": ["a", "b"], "shingles": [3, 0],
                           "signature": np.arange(256, dtype=np.uint32).reshape(2, 128)},
                          schema={"doc_id": pl.String, "shingles": pl.Int64, "signature": pl.Array(pl.UInt32, 128)})
    table = band_table(signed, Config())
    assert table["doc_id"].unique().to_list() == ["a"]
    assert table["band"].to_list() == list(range(band_shape(0.2, 128)[0]))
