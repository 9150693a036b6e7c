"""One output row per record: the compression of a corpus, local, with one loaded model.

The row is the contract of ``lingua batch`` (and of its Ray path, which runs this same
function inside each actor): the id, the compressed text, both token counts, the rate
reached, the method and model, and ``error``, empty when the record compressed. A record
that cannot be compressed gets its reason there and the job goes on; so does one whose
compression raises, since one odd document must not cost a night's run.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from lingua_core.batch.records import Record, text_problem
from lingua_core.errors import LinguaError
from lingua_core.tokens import count_tokens

ROW_FIELDS = ("id", "compressed_text", "origin_tokens", "compressed_tokens", "rate", "method", "model", "error")


@dataclass(frozen=True)
class CompressSettings:
    """What a prompt is compressed with: every record of a batch job, or ``lingua compress``'s one."""

    rate: float | None = None
    target_tokens: int | None = None
    method: str = "auto"
    encoding: str = "o200k_base"
    options: Any = None  # LLMLinguaOptions or LLMLingua2Options; None: the method's defaults

    def run(self, compressor: Any, prompt: Any, **extra: Any) -> Any:
        """``compressor.compress`` with these settings (``extra``: progress, cancellation)."""
        return compressor.compress(
            prompt,
            rate=self.rate,
            target_tokens=self.target_tokens,
            method=self.method,
            encoding=self.encoding,
            options=self.options,
            **extra,
        )


def error_row(record: Record, model: str, error: str, encoding: str) -> dict[str, Any]:
    origin = count_tokens(record.text, encoding) if record.text else 0
    return {
        "id": record.id,
        "compressed_text": "",
        "origin_tokens": origin,
        "compressed_tokens": 0,
        "rate": 0.0,
        "method": "",
        "model": model,
        "error": error,
    }


def compress_record(compressor: Any, record: Record, settings: CompressSettings) -> dict[str, Any]:
    """The output row of one record; never raises for a problem of the record's own."""
    from lingua_core.prompt import Prompt

    if record.error:
        return error_row(record, compressor.lm.name, record.error, settings.encoding)
    try:
        prompt = Prompt.from_text(record.text, instruction=record.instruction, question=record.question)
        result = settings.run(compressor, prompt)
    except LinguaError as exc:
        return error_row(record, compressor.lm.name, str(exc), settings.encoding)
    except Exception as exc:
        return error_row(record, compressor.lm.name, f"{type(exc).__name__}: {exc}", settings.encoding)
    return {
        "id": record.id,
        "compressed_text": result.compressed_text,
        "origin_tokens": result.origin_tokens,
        "compressed_tokens": result.compressed_tokens,
        "rate": result.rate,
        "method": result.method,
        "model": result.model,
        "error": "",
    }


def compress_records(
    records: Iterable[Record | str], compressor: Any, settings: CompressSettings = CompressSettings()
) -> Iterator[dict[str, Any]]:
    """Rows in the order of ``records``; plain strings are records numbered from 1."""
    for number, record in enumerate(records, start=1):
        if isinstance(record, str):
            record = Record(str(number), record, error=text_problem(record))
        yield compress_record(compressor, record, settings)
