"""Corpus compression: many records through one loaded model, resumable, local or on Ray.

This package is the library side of ``lingua batch``: records in (JSONL, Parquet, a folder
of text files), one output row per record out, bad records answered with an error instead
of stopping the job.
"""

from __future__ import annotations

from typing import Any

__all__ = ["compress_dataset", "compress_records"]


def __getattr__(name: str) -> Any:
    """Lazy, so that importing this package (as the local path does) never imports Ray."""
    if name == "compress_dataset":
        from lingua_core.batch.on_ray import compress_dataset

        return compress_dataset
    if name == "compress_records":
        from lingua_core.batch.job import compress_records

        return compress_records
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
