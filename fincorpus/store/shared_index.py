"""Where a store's dedup index lives, chosen by `store.index.backend`, and the lookup that uses it.

The index answers one question for `fincorpus update`: which stored documents may a new one duplicate? Its
entries are the band keys of the stored signatures (`fincorpus.dedup.incremental`: datasketch `MinHashLSH`
banding at `store.index_threshold`), and it has two homes:

- `parquet` (default): one band table per generation, `generations/N/bands.parquet` (doc_id, band, key),
  written with the generation and never changed. A lookup scans only the rows whose key a new document has,
  so it reads the tables from disk in a stream instead of holding every stored signature; on a shared
  filesystem every machine of a cluster reads the same tables. A generation written before band tables
  existed is banded from its `signatures.parquet` on the fly.
- `redis`: datasketch's `MinHashLSH` with its Redis storage (`storage_config={"type": "redis", ...}`), one
  server shared by every machine. The store's `signatures.parquet` stay the record: the server holds a
  copy tagged with the last generation it has, and each update first adds the generations it lacks (a new
  server, a store switched from `parquet`, an update that could not reach it after committing).

Either way the index only proposes: pairs whose signatures estimate a containment below
`dedup.candidate_threshold` are dropped, and the engine verifies the rest on their texts.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import xxhash

from fincorpus.config import Config
from fincorpus.dedup.incremental import band_keys, band_shape, estimated_containment
from fincorpus.dedup.signatures import Signer
from fincorpus.errors import UserError
from fincorpus.store.layout import StoreLayout

BAND_SCHEMA = {"doc_id": pl.String, "band": pl.Int16, "key": pl.UInt64}
_PROPOSED_SCHEMA = {"new": pl.Int64, "doc_id": pl.String}


def band_table(signed: pl.DataFrame, config: Config) -> pl.DataFrame:
    """One row per band of every signed document with shingles (BAND_SCHEMA), sorted by band and key."""
    compared = signed.filter(pl.col("shingles") > 0)
    bands, rows = band_shape(config.store.index_threshold, config.dedup.num_perm)
    keys = band_keys(compared["signature"].to_numpy(), bands, rows) if compared.height else \
        np.empty((0, bands), dtype=np.uint64)
    return pl.DataFrame({"doc_id": np.repeat(compared["doc_id"].to_numpy(), bands),
                         "band": np.tile(np.arange(bands, dtype=np.int16), compared.height),
                         "key": keys.reshape(-1)}, schema=BAND_SCHEMA).sort("band", "key", "doc_id")


class ParquetBandIndex:
    """Band tables beside each generation's signatures."""

    def __init__(self, layout: StoreLayout, config: Config) -> None:
        self.layout = layout
        self.config = config

    def generation_tables(self, signed: pl.DataFrame) -> dict[str, pl.DataFrame]:
        return {"bands": band_table(signed, self.config)}

    def proposed(self, new: pl.DataFrame, generation: int) -> pl.DataFrame:
        """(new row, stored doc_id) of every new document with shingles and stored one sharing a band key."""
        wanted = _row_bands(new, self.config)
        if wanted.is_empty():
            return pl.DataFrame(schema=_PROPOSED_SCHEMA)
        keys = wanted["key"].unique().implode()
        tables = [_stored_bands(self.layout, number, self.config).filter(pl.col("key").is_in(keys))
                  for number in range(1, generation + 1)]
        if not tables:
            return pl.DataFrame(schema=_PROPOSED_SCHEMA)
        found = pl.concat(tables).collect()
        return found.join(wanted, on=["band", "key"]).select("new", "doc_id").unique()

    def committed(self, generation: int) -> None:
        """Nothing to do: the band table went into place with its generation."""


class RedisBandIndex:
    """datasketch `MinHashLSH` on a Redis server, keyed by doc_id, with the store's generation beside it."""

    def __init__(self, layout: StoreLayout, config: Config) -> None:
        import redis
        from datasketch import MinHashLSH
        from redis.connection import parse_url

        self.layout = layout
        self.config = config
        settings = config.store.index
        self.url = settings.redis_url
        prefix = settings.redis_prefix or f"fincorpus:{xxhash.xxh3_64_hexdigest(str(layout.root).encode())}"
        self.prefix = prefix.encode("utf-8")
        self._errors = redis.RedisError
        try:
            connection = parse_url(self.url)
        except ValueError as exc:
            raise UserError(f"store.index.redis_url {self.url!r} is not a Redis URL ({exc})") from None
        self.client = redis.Redis(**connection)
        self._call(self.client.ping)  # an unreachable server stops the update before any work
        self.lsh = MinHashLSH(num_perm=config.dedup.num_perm,
                              params=band_shape(config.store.index_threshold, config.dedup.num_perm),
                              storage_config={"type": "redis", "redis": connection, "basename": self.prefix},
                              prepickle=False)
        self.signer = Signer(config.dedup.num_perm, config.dedup.seed)

    @property
    def _generation_key(self) -> bytes:
        return self.prefix + b":generation"

    def generation_tables(self, signed: pl.DataFrame) -> dict[str, pl.DataFrame]:
        return {}

    def indexed_generation(self) -> int:
        return int(self._call(self.client.get, self._generation_key) or 0)

    def sync(self, generation: int) -> None:
        """Add the generations up to `generation` the server lacks; start over if it holds later ones (the
        store was rebuilt under the same path)."""
        indexed = self.indexed_generation()
        if indexed > generation:
            self._call(self.clear)
            indexed = 0
        for number in range(indexed + 1, generation + 1):
            path = self.layout.generation_dir(number) / "signatures.parquet"
            if path.is_file():
                self._call(self._insert, pl.read_parquet(path).filter(pl.col("shingles") > 0))
            self._call(self.client.set, self._generation_key, number)

    def proposed(self, new: pl.DataFrame, generation: int) -> pl.DataFrame:
        self.sync(generation)
        compared = new.with_row_index("new").filter(pl.col("shingles") > 0)
        if compared.is_empty():
            return pl.DataFrame(schema=_PROPOSED_SCHEMA)
        band_values = [self._bands(signature) for signature in compared["signature"].to_numpy()]
        rows, names = [], []
        for band, table in enumerate(self.lsh.hashtables):
            found = self._call(table.getmany, *(values[band] for values in band_values))
            for new_row, stored in zip(compared["new"].to_list(), found):
                rows.extend([new_row] * len(stored))
                names.extend(name.decode("utf-8") for name in stored)
        return pl.DataFrame({"new": rows, "doc_id": names}, schema=_PROPOSED_SCHEMA).unique()

    def committed(self, generation: int) -> None:
        """Index the generation just committed. A server out of reach now is caught up by the next update."""
        try:
            self.sync(generation)
        except UserError:
            pass

    def clear(self) -> None:
        for key in self.client.scan_iter(match=self.prefix + b"*", count=1000):
            self.client.delete(key)

    def _bands(self, signature: np.ndarray) -> list[bytes]:
        hashvalues = self.signer.to_minhash(signature).hashvalues
        return [self.lsh._H(hashvalues[start:end]) for start, end in self.lsh.hashranges]

    def _insert(self, stored: pl.DataFrame) -> None:
        with self.lsh.insertion_session(buffer_size=10_000) as session:
            for doc_id, signature in zip(stored["doc_id"].to_list(), stored["signature"].to_numpy()):
                session.insert(doc_id.encode("utf-8"), self.signer.to_minhash(signature), check_duplication=False)

    def _call(self, function, *args):
        try:
            return function(*args)
        except self._errors as exc:
            raise UserError(f"cannot use the store's Redis index at {self.url} ({type(exc).__name__}): start the "
                            "server or set store.index.backend: parquet") from None


def open_index(layout: StoreLayout, config: Config) -> ParquetBandIndex | RedisBandIndex:
    if config.store.index.backend == "redis":
        return RedisBandIndex(layout, config)
    return ParquetBandIndex(layout, config)


def touched_documents(new: pl.DataFrame, layout: StoreLayout, index: ParquetBandIndex | RedisBandIndex,
                      generation: int, config: Config) -> set[str]:
    """Stored documents (up to `generation`) that the new ones (signed as `sign_documents` signs them) may
    duplicate: the same exact hash, or proposed by the index with an estimated containment of at least
    `dedup.candidate_threshold`."""
    parts = layout.parts("signatures.parquet", generation)
    if not parts or new.is_empty():
        return set()
    stored = pl.scan_parquet(parts)
    exact = set(stored.filter(pl.col("exact_hash").is_in(new["exact_hash"].implode()))
                .select("doc_id").collect()["doc_id"].to_list())
    proposed = index.proposed(new, generation)
    if proposed.is_empty():
        return exact
    signatures = (stored.filter(pl.col("doc_id").is_in(proposed["doc_id"].unique().implode()))
                  .select("doc_id", "shingles", "signature").collect())
    pairs = proposed.join(signatures.select("doc_id").with_row_index("stored"), on="doc_id")
    estimate = estimated_containment(
        np.concatenate([new["signature"].to_numpy(), signatures["signature"].to_numpy()]),
        np.column_stack([pairs["new"].to_numpy(), new.height + pairs["stored"].to_numpy().astype(np.int64)]),
        np.concatenate([new["shingles"].to_numpy(), signatures["shingles"].to_numpy()]))
    return exact | set(pairs["doc_id"].filter(estimate >= config.dedup.candidate_threshold).to_list())


def _row_bands(new: pl.DataFrame, config: Config) -> pl.DataFrame:
    """The band keys of the new documents, named by their row in `new`."""
    numbered = new.with_row_index("new").with_columns(pl.col("new").cast(pl.Int64))
    bands = band_table(numbered.select("new", pl.col("new").cast(pl.String).alias("doc_id"), "shingles",
                                       "signature"), config)
    return bands.select(pl.col("doc_id").cast(pl.Int64).alias("new"), "band", "key")


def _stored_bands(layout: StoreLayout, generation: int, config: Config) -> pl.LazyFrame:
    directory = layout.generation_dir(generation)
    if (directory / "bands.parquet").is_file():
        return pl.scan_parquet(directory / "bands.parquet")
    if (directory / "signatures.parquet").is_file():  # a generation from before band tables
        return band_table(pl.read_parquet(directory / "signatures.parquet"), config).lazy()
    return pl.LazyFrame(schema=BAND_SCHEMA)

