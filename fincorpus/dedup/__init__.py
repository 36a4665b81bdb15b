"""Dedup as a chain of table stages: fingerprint → shingle → sign → LSH candidates → verify → cluster →
canonical. LSH only proposes; verification on the shingle sets decides. Never imports Prefect."""

from fincorpus.dedup.engine import DedupResult, KnownPairs, deduplicate

__all__ = ["DedupResult", "KnownPairs", "deduplicate"]
