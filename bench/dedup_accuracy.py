"""Dedup accuracy on the labelled synthetic corpus: fincorpus next to rensa and datasketch, same input.

    python3 -m bench.dedup_accuracy --n 10000

Prints, per tool: pair precision, recall and F1 (pairs of documents put in one cluster, against pairs in
one family), document-removal precision (share of removed documents whose kept document is of their
family) and wall time. fincorpus runs its library path (clean, then deduplicate); the peers get the raw
text as character 5-grams, each with its documented usage:
- rensa 0.5: `RMinHash(num_perm=128, seed=42)` per document, `RMinHashLSH(threshold=0.8, num_perm=128,
  num_bands=16)`, a candidate is a duplicate when the sketches' estimated Jaccard is >= 0.8 (as rensa's
  own deduplicator checks candidates);
- datasketch: `MinHash(num_perm=128)` with `update_batch` of UTF-8 shingles, `MinHashLSH()` with its
  defaults (threshold 0.9), every candidate a duplicate.
Peers' clusters are connected components of their candidate pairs; each keeps its first document.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Callable

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from bench.synth import generate


def char_shingles(text: str, size: int = 5) -> list[str]:
    return [text[start:start + size] for start in range(max(1, len(text) - size + 1))]


def components_of(count: int, pairs: list[tuple[int, int]]) -> np.ndarray:
    edges = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(count, count))
    return connected_components(graph, directed=False)[1]


def run_fincorpus(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Cluster label and kept flag per document."""
    from fincorpus.config import Config
    from fincorpus.dedup import deduplicate
    from fincorpus.pipeline import CleanedBatch, clean_documents
    from fincorpus.documents import RawDocument

    config = Config()
    ids = [f"{row:07d}" for row in range(len(texts))]
    documents = [RawDocument(doc_id, "bench", "", text) for doc_id, text in zip(ids, texts)]
    cleaned: CleanedBatch = clean_documents(documents, config)
    result = deduplicate(cleaned.documents["doc_id"].to_list(), cleaned.documents["text"].to_list(), config.dedup)
    frame = result.assignments.sort("doc_id")
    labels = frame["cluster_id"].rank("dense").to_numpy()
    kept = (frame["status"] == "canonical").to_numpy()
    return labels, kept


def run_rensa(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    from rensa import RMinHash, RMinHashLSH

    lsh = RMinHashLSH(threshold=0.8, num_perm=128, num_bands=16)
    minhashes = []
    for row, text in enumerate(texts):
        minhash = RMinHash(num_perm=128, seed=42)
        minhash.update(char_shingles(text))
        lsh.insert(row, minhash)
        minhashes.append(minhash)
    pairs = [(row, other) for row, minhash in enumerate(minhashes) for other in lsh.query(minhash)
             if other != row and minhash.jaccard(minhashes[other]) >= 0.8]
    return _first_kept(components_of(len(texts), pairs))


def run_datasketch(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(num_perm=128)
    minhashes = []
    for row, text in enumerate(texts):
        minhash = MinHash(num_perm=128)
        minhash.update_batch([shingle.encode("utf-8") for shingle in char_shingles(text)])
        lsh.insert(row, minhash)
        minhashes.append(minhash)
    pairs = [(row, other) for row, minhash in enumerate(minhashes) for other in lsh.query(minhash) if other != row]
    return _first_kept(components_of(len(texts), pairs))


def _first_kept(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    kept = np.zeros(len(labels), dtype=bool)
    _, first = np.unique(labels, return_index=True)
    kept[first] = True
    return labels, kept


def pair_count(sizes) -> int:
    return int(sum(size * (size - 1) // 2 for size in sizes))


def score(labels: np.ndarray, kept: np.ndarray, families: np.ndarray) -> dict[str, float]:
    predicted = pair_count(Counter(labels.tolist()).values())
    truth = pair_count(Counter(families.tolist()).values())
    correct = pair_count(Counter(zip(labels.tolist(), families.tolist())).values())
    precision = correct / predicted if predicted else 1.0
    recall = correct / truth if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    keeper_family = {label: family for label, family, keep in zip(labels, families, kept) if keep}
    # a document without a kept one in its group was not removed as a duplicate (cleaning dropped it)
    removed = [family == keeper_family[label] for label, family, keep in zip(labels, families, kept)
               if not keep and label in keeper_family]
    return {"pair_precision": precision, "pair_recall": recall, "pair_f1": f1,
            "removal_precision": sum(removed) / len(removed) if removed else 1.0, "removed": len(removed),
            "truly_redundant": len(families) - len(set(families.tolist()))}


TOOLS: dict[str, Callable] = {"fincorpus": run_fincorpus, "rensa 0.5": run_rensa, "datasketch": run_datasketch}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="documents to generate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tools", default=",".join(TOOLS), help="comma-separated subset of: " + ", ".join(TOOLS))
    args = parser.parse_args()
    corpus = generate(args.n, args.seed)
    texts = corpus["text"].to_list()
    families = corpus["family"].to_numpy()
    megabytes = sum(len(text.encode("utf-8")) for text in texts) / 1e6
    print(f"{len(texts)} documents, {megabytes:.1f} MB, {len(set(families.tolist()))} families")
    rows = []
    for name in args.tools.split(","):
        started = time.perf_counter()
        labels, kept = TOOLS[name](texts)
        seconds = time.perf_counter() - started
        rows.append({"tool": name, **score(labels, kept, families), "seconds": round(seconds, 1)})
    table = pl.DataFrame(rows).with_columns(pl.col(pl.Float64).exclude("seconds").round(4))
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=160, tbl_hide_dataframe_shape=True):
        print(table)


if __name__ == "__main__":
    main()
