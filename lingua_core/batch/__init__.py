"""Corpus compression: many records through one loaded model, resumable, local or on Ray.

This package is the library side of ``lingua batch``: records in (JSONL, Parquet, a folder
of text files), one output row per record out, bad records answered with an error instead
of stopping the job.
"""
