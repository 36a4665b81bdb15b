"""Updating a store of N documents with a batch of 1k, against a full build of N + 1k.

    python3 -m bench.bench_update --n 100000 --batch 1000

The documents come from `bench.synth` (the real headlines of ../shared/corpus recombined into reports, seed
004's legal pages, and every form a report takes: previews, reposts, width and traditional variants, edits),
shuffled, so the batch holds forms of reports already stored. The first N go into a store with one
`update` (not timed), then the last `--batch` are added with a second `update` (timed), and a full
`build` of all N + batch runs (timed); `--repeat R` times the update R times, each on a copy of the same
store, and reports the least wall and CPU time (every run is printed). Both are the library paths of
`fincorpus update` / `build` without Prefect. Beside them, for scale, the index step alone with datasketch:
inserting N + batch MinHashes into a `MinHashLSH`, and 'updating' it by loading a pickled index of N and
inserting the batch.

Each run is timed in wall seconds and in CPU seconds (this process and its finished worker processes,
`getrusage`): on a machine shared with other jobs the CPU ratio is the figure to read.
"""

from __future__ import annotations

import argparse
import pickle
import resource
import shutil
import tempfile
import time
from pathlib import Path

import polars as pl
from datasketch import MinHashLSH

from bench.synth import generate
from fincorpus.config import Config
from fincorpus.dedup.shingles import fingerprint_text, shingle_hashes
from fincorpus.dedup.signatures import Signer
from fincorpus.pipeline import build
from fincorpus.store import StoreLayout, update


def cpu_seconds() -> float:
    return sum(resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
               for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))


def timed(action) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def timed_cpu(action) -> tuple[float, float, object]:
    """Wall seconds, CPU seconds (with worker processes) and the result of `action()`."""
    cpu = cpu_seconds()
    wall, result = timed(action)
    return wall, cpu_seconds() - cpu, result


def datasketch_index(texts: list[str], stored: int, work: Path) -> tuple[float, float]:
    """Seconds to index every text in one MinHashLSH, and to load a pickled index of the first `stored` and
    insert the rest (signatures computed beforehand in both cases: this is the index step alone)."""
    signer = Signer(128, 1)
    minhashes = [signer.to_minhash(signer.sign(shingle_hashes(fingerprint_text(text), 5))) for text in texts]

    def index(rows: range, lsh: MinHashLSH | None = None) -> MinHashLSH:
        lsh = lsh or MinHashLSH(threshold=0.3, num_perm=128)
        for row in rows:
            lsh.insert(row, minhashes[row], check_duplication=False)
        return lsh

    full, _ = timed(lambda: index(range(len(texts))))
    (work / "lsh.pickle").write_bytes(pickle.dumps(index(range(stored))))
    incremental, _ = timed(lambda: index(range(stored, len(texts)), pickle.loads((work / "lsh.pickle").read_bytes())))
    return full, incremental


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="documents in the store before the update")
    parser.add_argument("--batch", type=int, default=1000, help="documents in the new batch")
    parser.add_argument("--no-peers", action="store_true", help="skip the datasketch index comparison")
    parser.add_argument("--repeat", type=int, default=1,
                        help="time the update this many times, each on a copy of the same store (the least is "
                             "reported, every run printed)")
    args = parser.parse_args()
    config = Config()
    work = Path(tempfile.mkdtemp(prefix="bench-update-"))
    try:
        corpus = generate(args.n + args.batch, seed=7)
        stored, batch = corpus.head(args.n), corpus.tail(args.batch)
        stored.select(pl.col("doc_id").alias("id"), "text").write_parquet(work / "stored.parquet")
        batch.select(pl.col("doc_id").alias("id"), "text").write_parquet(work / "batch.parquet")
        corpus.select(pl.col("doc_id").alias("id"), "text").write_parquet(work / "all.parquet")

        initial, _ = timed(lambda: update([work / "stored.parquet"], work / "store", config))
        shutil.copytree(work / "store", work / "store-before")
        runs = []
        for run in range(args.repeat):
            if run:
                shutil.rmtree(work / "store")
                shutil.copytree(work / "store-before", work / "store")
            runs.append(timed_cpu(lambda: update([work / "batch.parquet"], work / "store", config)))
        if args.repeat > 1:
            print("updates (wall s, CPU s): " + ", ".join(f"{wall:.2f} / {cpu:.2f}" for wall, cpu, _ in runs))
        update_seconds, update_cpu = min(wall for wall, _, _ in runs), min(cpu for _, cpu, _ in runs)
        result = runs[-1][2]
        build_seconds, build_cpu, built = timed_cpu(lambda: build([work / "all.parquet"], work / "built", config))

        layout = StoreLayout(work / "store")
        agree = (layout.read_state().lineage.select("doc_id", "status", "canonical_id")
                 .join(built.tables.lineage.select("doc_id", "status", "canonical_id"), on="doc_id", suffix="_build")
                 .select((pl.col("status") == pl.col("status_build"))
                         & (pl.col("canonical_id") == pl.col("canonical_id_build"))).to_series().mean())
        rows = [("fincorpus", f"build of {args.n + args.batch:,}", build_seconds, build_cpu),
                ("fincorpus", f"update of {args.n:,} with {args.batch:,}", update_seconds, update_cpu)]
        if not args.no_peers:
            full, incremental = datasketch_index(corpus["text"].to_list(), args.n, work)
            rows += [("datasketch MinHashLSH (index only)", f"insert {args.n + args.batch:,}", full, None),
                     ("datasketch MinHashLSH (index only)", f"unpickle {args.n:,} + insert {args.batch:,}", incremental,
                      None)]
        print(f"\nstore of {args.n:,} built by one update in {initial:.1f} s; the update added "
              f"{result.summary['added']} documents ({result.summary['duplicate']} duplicates, "
              f"{result.summary['superseded']} superseded canonicals, {result.summary['cleaned_again']} stored "
              f"documents cleaned again; the engine compared it with {result.summary['stored_compared']:,} stored "
              "documents: the clusters it touched)")
        print("\n| tool | run | wall seconds | CPU seconds |\n|---|---|---:|---:|")
        for tool, run, seconds, cpu in rows:
            print(f"| {tool} | {run} | {seconds:.2f} | {'' if cpu is None else f'{cpu:.2f}'} |")
        print(f"\nupdate / build: {update_cpu / build_cpu:.1%} of the CPU time, {update_seconds / build_seconds:.1%} "
              "of the wall time" + ("" if args.no_peers else f"   (datasketch index alone: {rows[3][2] / rows[2][2]:.1%})"))
        print(f"documents with the build's status and canonical: {agree:.2%}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
