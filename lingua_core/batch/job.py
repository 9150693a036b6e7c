"""One output row per record: the compression of a corpus, local, with one loaded model.

The row is the contract of ``lingua batch`` (and of its Ray path, which runs this same
function inside each actor): the id, the compressed text, both token counts, the rate
reached, the method and model, and ``error``, empty when the record compressed. A record
that cannot be compressed gets its reason there and the job goes on; so does one whose
compression raises, since one odd document must not cost a night's run.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from lingua_core.batch.records import Record, text_problem
from lingua_core.errors import LinguaError
from lingua_core.tokens import count_tokens

# Records compressed together: enough rows to fill a CPU's matrix products with short
# documents, few enough that a crash loses little (a batch is also an output shard).
BATCH_SIZE = 32
ROW_FIELDS = ("id", "compressed_text", "origin_tokens", "compressed_tokens", "rate", "method", "model", "error")


@dataclass(frozen=True)
class CompressSettings:
    """What a prompt is compressed with: every record of a batch job, or ``lingua compress``'s one."""

    rate: float | None = None
    target_tokens: int | None = None
    method: str = "auto"
    encoding: str = "o200k_base"
    options: Any = None  # LLMLinguaOptions or LLMLingua2Options; None: the method's defaults

    def run_many(self, compressor: Any, prompts: Sequence[Any]) -> list[Any]:
        """``compressor.compress_many``: a result or an error per prompt, the model's work shared."""
        return list(
            compressor.compress_many(
                prompts,
                rate=self.rate,
                target_tokens=self.target_tokens,
                method=self.method,
                encoding=self.encoding,
                options=self.options,
            )
        )

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


def compress_batch(compressor: Any, records: Sequence[Record], settings: CompressSettings) -> list[dict[str, Any]]:
    """The output rows of some records, in order, their model work shared
    (``Compressor.compress_many``); never raises for a problem of a record's own."""
    from lingua_core.prompt import Prompt

    rows: list[dict[str, Any] | None] = [None] * len(records)
    prompts: list[tuple[int, Any]] = []
    for index, record in enumerate(records):
        if record.error:
            rows[index] = error_row(record, compressor.lm.name, record.error, settings.encoding)
            continue
        try:
            prompt = Prompt.from_text(record.text, instruction=record.instruction, question=record.question)
            prompts.append((index, prompt))
        except Exception as exc:
            rows[index] = error_row(record, compressor.lm.name, _reason(exc), settings.encoding)
    try:
        results: list[Any] = settings.run_many(compressor, [prompt for _, prompt in prompts])
    except Exception as exc:  # the batch as a whole failed (a model fault): each record says so
        results = [exc] * len(prompts)
    for (index, _), result in zip(prompts, results, strict=True):
        record = records[index]
        if isinstance(result, Exception):
            rows[index] = error_row(record, compressor.lm.name, _reason(result), settings.encoding)
            continue
        rows[index] = {
            "id": record.id,
            "compressed_text": result.compressed_text,
            "origin_tokens": result.origin_tokens,
            "compressed_tokens": result.compressed_tokens,
            "rate": result.rate,
            "method": result.method,
            "model": result.model,
            "error": "",
        }
    return [row for row in rows if row is not None]


def compress_record(compressor: Any, record: Record, settings: CompressSettings) -> dict[str, Any]:
    """The output row of one record; never raises for a problem of the record's own."""
    return compress_batch(compressor, [record], settings)[0]


def compress_records(
    records: Iterable[Record | str],
    compressor: Any,
    settings: CompressSettings = CompressSettings(),
    batch_size: int = BATCH_SIZE,
) -> Iterator[dict[str, Any]]:
    """Rows in the order of ``records``, ``batch_size`` records compressed together; plain
    strings are records numbered from 1."""
    batch: list[Record] = []
    for number, record in enumerate(records, start=1):
        if isinstance(record, str):
            record = Record(str(number), record, error=text_problem(record))
        batch.append(record)
        if len(batch) >= batch_size:
            yield from compress_batch(compressor, batch, settings)
            batch = []
    if batch:
        yield from compress_batch(compressor, batch, settings)


def _reason(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, LinguaError) else f"{type(exc).__name__}: {exc}"
