"""The local engine next to the Dask engine on one generated corpus: wall time, CPU seconds (this process and
its children: workers, cleaning pool), documents per worker-hour and per CPU-hour, peak memory per worker,
and whether the outputs are the same bytes.

    python3 -m bench.engines --n 2000 --workers 2

Generates `--n` documents with `bench/synth.py` (report families, ~9 KB each) as JSONL files of `--per-file`
documents, then builds them twice in this process: `pipeline.build` (engine local, no Prefect) and the
`build-corpus` flow with `engine.kind: dask` on a LocalCluster of `--workers` worker processes (one thread
each). Prefect's API server is started before the clock starts. A thread samples the resident memory of
every worker process (psutil) for the per-worker peak, and this process's (the driver's) during the Dask build;
`--dask-only` leaves out the local build, so that what the driver holds is the Dask build's alone.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import threading
import time
from pathlib import Path

import polars as pl
import psutil

from bench.synth import generate
from fincorpus import pipeline
from fincorpus.config import Config, EngineConfig

TABLES = ("corpus.parquet", "lineage.parquet", "removed_spans.parquet", "documents.parquet")


class WorkerMemory:
    """Peak RSS and CPU seconds of each child process (Dask workers, the local engine's cleaning pool;
    Prefect's server left out), sampled every 0.2 s."""

    def __init__(self) -> None:
        self.peaks: dict[int, int] = {}
        self.cpu: dict[int, float] = {}
        self.own_peak = 0
        """This process's peak RSS while sampled (the driver of a Dask build)."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> WorkerMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(0.2):
            self.own_peak = max(self.own_peak, me.memory_info().rss)
            for child in me.children(recursive=True):
                try:
                    if "uvicorn" in " ".join(child.cmdline()):
                        continue
                    rss = child.memory_info().rss
                    times = child.cpu_times()
                except psutil.Error:
                    continue
                self.peaks[child.pid] = max(self.peaks.get(child.pid, 0), rss)
                self.cpu[child.pid] = times.user + times.system


def write_inputs(count: int, per_file: int, directory: Path) -> int:
    frame = generate(count, seed=3).select(pl.col("doc_id").alias("id"), "text")
    for number, start in enumerate(range(0, count, per_file)):
        frame.slice(start, per_file).write_ndjson(directory / f"part-{number:04d}.jsonl")
    return sum(len(text.encode()) for text in frame["text"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--per-file", type=int, default=100, help="documents per JSONL input file")
    parser.add_argument("--partition-files", type=int, default=2, help="engine.partition_files")
    parser.add_argument("--dask-only", action="store_true",
                        help="skip the local build: the driver's peak RSS is then the Dask build's alone")
    args = parser.parse_args()

    from flows.build import run_build
    from flows.engine import api_for_workers

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        (root / "in").mkdir()
        size = write_inputs(args.n, args.per_file, root / "in")
        local = Config()
        dask = Config(engine=EngineConfig(kind="dask", workers=args.workers, threads_per_worker=1,
                                          partition_files=args.partition_files))
        rows = []
        if not args.dask_only:
            with WorkerMemory() as pool:
                driver_cpu = time.process_time()
                started = time.perf_counter()
                pipeline.build([root / "in"], root / "local", local)
                local_seconds = time.perf_counter() - started
                local_cpu = time.process_time() - driver_cpu + sum(pool.cpu.values())
            rows.append(("local (pipeline.build)", 1, local_seconds, local_cpu,
                         resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "-"))
        driver_before = psutil.Process().memory_info().rss
        with api_for_workers(dask.engine):
            with WorkerMemory() as memory:
                driver_cpu = time.process_time()
                started = time.perf_counter()
                run_build([str(root / "in")], str(root / "dask"), dask)
                dask_seconds = time.perf_counter() - started
                dask_cpu = time.process_time() - driver_cpu + sum(memory.cpu.values())
        same = args.dask_only or all((root / "local" / name).read_bytes() == (root / "dask" / name).read_bytes()
                                     for name in TABLES)
        rows.append((f"dask LocalCluster x{args.workers}", args.workers, dask_seconds, dask_cpu,
                     max(memory.peaks.values(), default=0), "-" if args.dask_only else "yes" if same else "NO"))
    print(f"{args.n} documents, {size / 1e6:.1f} MB of text, {args.n // args.per_file} files, "
          f"partition_files={args.partition_files}, {psutil.cpu_count()} cores")
    print(f"{'engine':<26}{'workers':>8}{'wall s':>9}{'CPU s':>8}{'docs/s':>9}{'docs/worker-hour':>18}"
          f"{'docs/CPU-hour':>15}{'peak RSS/worker MB':>20}{'same bytes':>12}")
    for name, workers, seconds, cpu, peak, same_bytes in rows:
        print(f"{name:<26}{workers:>8}{seconds:>9.1f}{cpu:>8.1f}{args.n / seconds:>9.1f}"
              f"{args.n / seconds * 3600 / workers:>18,.0f}{args.n / cpu * 3600:>15,.0f}{peak / 1e6:>20.0f}"
              f"{same_bytes:>12}")
    print(f"driver (this process) peak RSS during the dask build: {memory.own_peak / 1e6:.0f} MB "
          f"(before it: {driver_before / 1e6:.0f} MB)")


if __name__ == "__main__":
    main()
