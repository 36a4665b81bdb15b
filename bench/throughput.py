"""Throughput and memory: fincorpus next to rensa and datasketch, one run, the same input.

    python3 -m bench.throughput --n 5000

Generates (once, then cached) a labelled corpus of Chinese broker-report text with `bench/synth.py` (~9 KB
per document, vocabulary from ../shared/corpus), writes it as one Parquet file and runs every tool on it
in its own subprocess, one after the other, while this process samples the resident memory of the whole
process tree (the tool and any workers it starts) with psutil. Prints wall time, MB/s and docs/s (on the
UTF-8 bytes of the input text), peak RSS, pair F1 against the corpus's families (`bench.dedup_accuracy`)
and, for fincorpus, each stage of `fincorpus build --no-prefect`:

- `fincorpus`: `pipeline.build` (read, clean, deduplicate, write every output), stages timed through its
  progress callback: read+clean (reading overlaps the workers' cleaning, batch by batch), templates (the
  batch's template lines, then each batch finished and written as runs), shingles (dedup pass 1:
  fingerprints, exact hashes, frequency sketch of 5-grams and figures), signatures (pass 2: 5-grams,
  boilerplate candidates counted exactly, MinHash), lsh+verify (LSH Ensemble candidates, verification on
  shingles recomputed from the texts, clusters, canonical choice),
  write (the runs merged into every output, reports, manifest);
- `fincorpus-dedup`: the dedup engine alone (`fincorpus.dedup.deduplicate`) on the raw text, as the peers
  get it, read lazily from the Parquet file (one row group in memory at a time: the engine's memory, not
  the corpus's): stages `scan` (pass 1: fingerprints, exact hashes, frequency sketch), `signatures`
  (pass 2: 5-grams, exact counts of boilerplate candidates, MinHash), `lsh+verify` (LSH Ensemble
  candidates, verification on shingles recomputed from the two texts, clusters, canonical choice);
- `rensa`: rensa 0.5 as documented, `RMinHash(num_perm=128)` + `RMinHashLSH(threshold=0.8, num_bands=16)`
  over character 5-grams of the raw text, candidates kept at estimated Jaccard >= 0.8;
- `datasketch-bulk`: `MinHash.bulk` with an xxhash 32-bit hash function, `MinHashLSH` insertion session;
- `datasketch`: `MinHash.update_batch` with its default SHA-1 hash, `MinHashLSH` with its defaults.

The peers deduplicate only (no cleaning, no outputs); their `read` is the Parquet read, their dedup time
is the rest. Below the tables, the ratio of fincorpus's dedup MB/s (scan + signatures + lsh+verify) to
rensa's dedup MB/s in this run. `--tools fincorpus-build-only` runs the build with dedup replaced by
"every document canonical": the streamed read, clean and write alone, to measure their memory apart from
the dedup engine's. Tables go to stdout; `--json FILE` also saves every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl
import psutil

from bench.dedup_accuracy import _first_kept, char_shingles, components_of, run_datasketch, run_rensa, score

TOOLS = ("fincorpus", "fincorpus-dedup", "rensa", "datasketch-bulk", "datasketch")
BUILD_ONLY = "fincorpus-build-only"
"""Not run by default: `fincorpus build` with dedup replaced by "every document canonical", to measure the
streamed read, clean and write (their memory and speed) apart from the dedup engine's."""
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "fincorpus-bench"


def corpus_file(count: int, seed: int) -> Path:
    """The generated corpus as Parquet (`id`, `text`, `family`), cached by size and seed."""
    path = CACHE / f"synth-{count}-{seed}.parquet"
    if not path.exists():
        from bench.synth import generate

        CACHE.mkdir(parents=True, exist_ok=True)
        frame = generate(count, seed).rename({"doc_id": "id"}).select("id", "text", "family")
        partial = path.with_suffix(".partial")
        frame.write_parquet(partial, row_group_size=4096)
        partial.replace(path)
    return path


# ---- one tool, in a child process ----

def _every_document_canonical(cleaned, config, progress=None):
    from fincorpus.dedup.engine import DEDUP_SCHEMA, PAIRS_SCHEMA, DedupResult, cluster_id_of

    doc_ids = cleaned.index.filter(pl.col("has_content"))["doc_id"].to_list()
    rows = [(doc_id, cluster_id_of(doc_id), doc_id, "canonical", None, 1.0, 1.0, 0) for doc_id in doc_ids]
    return DedupResult(pl.DataFrame(rows, schema=DEDUP_SCHEMA, orient="row"), pl.DataFrame(schema=PAIRS_SCHEMA),
                       0, 0, 0, 0)


def run_fincorpus(corpus: Path, workdir: Path, workers: int | None,
                  build_only: bool = False) -> tuple[dict, np.ndarray, np.ndarray]:
    from fincorpus import stream
    from fincorpus.config import Config, EngineConfig
    from fincorpus.pipeline import build

    if build_only:
        stream.dedup_cleaned = _every_document_canonical

    config = Config() if workers is None else Config(engine=EngineConfig(local_workers=workers))
    marks: list[tuple[str, float]] = []
    build([corpus], workdir / "out", config, progress=lambda stage: marks.append((stage, time.perf_counter())))
    marks.append(("end", time.perf_counter()))
    stages = {stage: end - start for (stage, start), (_, end) in zip(marks, marks[1:]) if stage != "deduplicate"}
    lineage = pl.read_parquet(workdir / "out" / "lineage.parquet", columns=["doc_id", "cluster_id", "status"])
    lineage = lineage.sort("doc_id")  # ids are d0000000.. in corpus order
    # a document dropped by cleaning has no cluster: it stands alone
    labels = lineage["cluster_id"].fill_null(lineage["doc_id"]).rank("dense").to_numpy()
    return stages, labels, (lineage["status"] == "canonical").to_numpy()


def run_datasketch_bulk(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    import xxhash
    from datasketch import MinHash, MinHashLSH

    minhashes = MinHash.bulk([[shingle.encode("utf-8") for shingle in char_shingles(text)] for text in texts],
                             num_perm=128, hashfunc=xxhash.xxh32_intdigest)
    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    with lsh.insertion_session() as session:
        for row, minhash in enumerate(minhashes):
            session.insert(row, minhash)
    pairs = [(row, other) for row, minhash in enumerate(minhashes) for other in lsh.query(minhash) if other != row]
    return _first_kept(components_of(len(texts), pairs))


class ParquetTexts(Sequence):
    """The `text` column of a Parquet file as a sequence that holds its last `cache_groups` row groups."""

    def __init__(self, path: Path, cache_groups: int = 2) -> None:
        import pyarrow.parquet as pq

        self.file = pq.ParquetFile(path)
        sizes = [self.file.metadata.row_group(group).num_rows for group in range(self.file.num_row_groups)]
        self.starts = np.cumsum([0, *sizes])
        self.cache: dict[int, list[str]] = {}
        self.cache_groups = cache_groups

    def __len__(self) -> int:
        return int(self.starts[-1])

    def __getitem__(self, row: int) -> str:
        if not 0 <= row < len(self):
            raise IndexError(row)
        group = int(np.searchsorted(self.starts, row, side="right")) - 1
        texts = self.cache.pop(group, None)
        if texts is None:
            texts = self.file.read_row_group(group, columns=["text"]).column(0).to_pylist()
            while len(self.cache) >= self.cache_groups:
                self.cache.pop(next(iter(self.cache)))
        self.cache[group] = texts  # most recently used last
        return texts[row - int(self.starts[group])]


def run_fincorpus_dedup(corpus: Path) -> tuple[dict, np.ndarray, np.ndarray]:
    from fincorpus.config import Config
    from fincorpus.dedup import deduplicate

    texts = ParquetTexts(corpus)
    doc_ids = pl.read_parquet(corpus, columns=["id"])["id"].to_list()
    marks: list[tuple[str, float]] = [("read", time.perf_counter())]
    result = deduplicate(doc_ids, texts, Config().dedup,
                         progress=lambda stage: marks.append(("scan" if stage == "shingles" else stage,
                                                              time.perf_counter())))
    marks.append(("end", time.perf_counter()))
    stages = {stage: end - start for (stage, start), (_, end) in zip(marks, marks[1:])}
    frame = result.assignments.sort("doc_id")
    return stages, frame["cluster_id"].rank("dense").to_numpy(), (frame["status"] == "canonical").to_numpy()


PEERS = {"rensa": run_rensa, "datasketch-bulk": run_datasketch_bulk, "datasketch": run_datasketch}


def child(tool: str, corpus: Path, result: Path, workers: int | None) -> None:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fincorpus-bench-") as workdir:
        if tool in ("fincorpus", BUILD_ONLY):
            stages, labels, kept = run_fincorpus(corpus, Path(workdir), workers, build_only=tool == BUILD_ONLY)
        elif tool == "fincorpus-dedup":
            stages, labels, kept = run_fincorpus_dedup(corpus)
        else:
            texts = pl.read_parquet(corpus, columns=["text"])["text"].to_list()
            read = time.perf_counter()
            labels, kept = PEERS[tool](texts)
            stages = {"read": read - started, "dedup": time.perf_counter() - read}
    seconds = time.perf_counter() - started
    result.write_text(json.dumps({"seconds": seconds, "stages": stages, "labels": labels.tolist(),
                                  "kept": kept.tolist()}))


# ---- the parent: run each tool, sample its process tree ----

def tree_rss(process: psutil.Process) -> int:
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except psutil.Error:  # a worker that just ended
            pass
    return total


def measure(tool: str, corpus: Path, workers: int | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="fincorpus-bench-") as directory:
        result = Path(directory) / "result.json"
        command = [sys.executable, "-m", "bench.throughput", "--child", tool, "--corpus", str(corpus),
                   "--result", str(result)] + ([] if workers is None else ["--workers", str(workers)])
        process = subprocess.Popen(command, cwd=Path(__file__).resolve().parent.parent)
        watched = psutil.Process(process.pid)
        peak = 0
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                try:
                    peak = max(peak, tree_rss(watched))
                except psutil.Error:
                    break
                done.wait(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        code = process.wait()
        done.set()
        sampler.join()
        if code != 0:
            raise SystemExit(f"{tool} failed with exit code {code}")
        figures = json.loads(result.read_text())
    figures["peak_rss_mb"] = peak / 1e6
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="documents to generate (cached in ~/.cache)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tools", default=",".join(TOOLS),
                        help="comma-separated subset of: " + ", ".join((*TOOLS, BUILD_ONLY)))
    parser.add_argument("--workers", type=int, default=None, help="fincorpus engine.local_workers (default: one per core)")
    parser.add_argument("--json", type=Path, default=None, help="also write every figure to this file")
    parser.add_argument("--child", choices=(*TOOLS, BUILD_ONLY), help=argparse.SUPPRESS)
    parser.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.corpus, args.result, args.workers)
        return

    corpus = corpus_file(args.n, args.seed)
    frame = pl.read_parquet(corpus, columns=["text", "family"])
    megabytes = frame["text"].str.len_bytes().sum() / 1e6
    families = frame["family"].to_numpy()
    print(f"{len(frame)} documents, {megabytes:.1f} MB of text ({megabytes * 1e3 / len(frame):.1f} KB each), "
          f"{len(set(families.tolist()))} families; {psutil.cpu_count()} cores")
    rows, stage_rows, saved = [], [], {}
    for tool in args.tools.split(","):
        figures = measure(tool, corpus, args.workers)
        accuracy = score(np.array(figures.pop("labels")), np.array(figures.pop("kept")), families)
        dedup_seconds = sum(seconds for stage, seconds in figures["stages"].items()
                            if stage in ("shingles", "scan", "signatures", "lsh+verify", "dedup"))
        rows.append({"tool": tool, "seconds": round(figures["seconds"], 2),
                     "MB/s": round(megabytes / figures["seconds"], 2), "docs/s": round(len(frame) / figures["seconds"]),
                     "dedup MB/s": round(megabytes / dedup_seconds, 2) if dedup_seconds else None,
                     "peak RSS MB": round(figures["peak_rss_mb"]), "pair F1": round(accuracy["pair_f1"], 4),
                     "removal precision": round(accuracy["removal_precision"], 4)})
        for stage, seconds in figures["stages"].items():
            stage_rows.append({"tool": tool, "stage": stage, "seconds": round(seconds, 2),
                               "MB/s": round(megabytes / seconds, 2) if seconds else None})
        saved[tool] = {**figures, **accuracy}
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=160, tbl_hide_dataframe_shape=True,
                   tbl_hide_column_data_types=True):
        print(pl.DataFrame(rows))
        print(pl.DataFrame(stage_rows))
    by_tool = {row["tool"]: row["dedup MB/s"] for row in rows}
    for tool in ("fincorpus", "fincorpus-dedup"):
        if tool in by_tool and by_tool.get("rensa"):
            print(f"{tool} dedup (fingerprints, signatures, LSH, verification, clusters): "
                  f"{by_tool[tool] / by_tool['rensa']:.2f}x rensa's dedup MB/s in this run")
    whole = {row["tool"]: row["MB/s"] for row in rows}
    for tool in ("fincorpus", BUILD_ONLY):
        if tool in whole and by_tool.get("rensa"):
            print(f"{tool} whole build (read, clean, dedup, write every output): "
                  f"{whole[tool] / by_tool['rensa']:.2f}x rensa's dedup MB/s in this run")
    if args.json:
        args.json.write_text(json.dumps({"documents": len(frame), "megabytes": megabytes, "tools": saved,
                                         "table": rows, "stages": stage_rows}, indent=1))


if __name__ == "__main__":
    main()
