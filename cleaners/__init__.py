"""Cleaners: small named steps that take text and return the kept text and the edits that made it.

A cleaner never rewrites text silently (see `cleaners.base`). `cleaners.chain.CleaningChain` composes them
and maps every removal back to offsets in the text as read. Patterns are data: `cleaners/rules/*.yaml`.
This package never imports Prefect, `flows` or the dedup engine.
"""

from cleaners.base import CleanResult, Cleaner, Edit, apply_edits
from cleaners.chain import ChainResult, CleaningChain, RemovedSpan
from cleaners.registry import build_chain, clean_batch

__all__ = ["ChainResult", "CleanResult", "Cleaner", "CleaningChain", "Edit", "RemovedSpan", "apply_edits", "build_chain",
           "clean_batch"]
