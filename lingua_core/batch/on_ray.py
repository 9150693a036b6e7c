"""``compress_dataset``: a batch job's compression as a Ray Data stage, one model per actor.

Each actor loads the model once and runs every batch it is given through
``compress_records``, the local path's own function: a row on Ray is the row the local
path gives the same record, and whatever batching that function does through the model,
the actors do too. Ray replaces an actor that dies (``max_restarts``) and reruns the
batches it held on the new one (``max_task_retries``): a lost actor costs time, not rows.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lingua_core.batch.job import CompressSettings, compress_records
from lingua_core.batch.output import POSITION
from lingua_core.batch.records import Fields, Record, record_from_row
from lingua_core.errors import InputError

ACTOR_RESTARTS = -1  # a dead actor is replaced for as long as the job runs
TASK_RETRIES = 3  # a batch that kills its actor three times is a poison batch: fail, not loop


@dataclass(frozen=True)
class ModelLoader:
    """How an actor gets its compressor when the caller gives no ``load``; on a GPU actor
    ``device='auto'`` finds the one GPU Ray gave it."""

    model: str = "embedded"
    device: str = "auto"
    dtype: str = "auto"

    def __call__(self) -> Any:
        from lingua_core.api import Compressor

        return Compressor.load(self.model, device=self.device, dtype=self.dtype)


class CompressBatch:
    """Ray Data's callable class: constructed once per actor, called once per batch."""

    def __init__(self, settings: CompressSettings, load: Callable[[], Any], fields: Fields | None) -> None:
        self.settings = settings
        self.fields = fields  # None: the rows are records already (``ray_input.read_corpus``)
        self.compressor = load()

    def _record(self, row: dict[str, Any]) -> Record:
        if self.fields is not None:
            return record_from_row(row, "", self.fields)
        return Record(row["id"], row["text"] or "", row["question"] or "", row["instruction"] or "", row["error"] or "")

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        rows = batch.to_pylist()
        records = [self._record(row) for row in rows]
        # Ray's batch is the model's batch, as ``--batch-size`` records are on the local path.
        out = list(compress_records(records, self.compressor, self.settings, batch_size=max(1, len(records))))
        if POSITION in batch.column_names:
            for compressed, row in zip(out, rows, strict=True):
                compressed[POSITION] = row[POSITION]
        return pa.Table.from_pylist(out)


def compress_dataset(
    dataset: Any,
    *,
    text_field: str = "text",
    question_field: str | None = None,
    instruction_field: str | None = None,
    id_field: str = "id",
    rate: float | None = None,
    target_tokens: int | None = None,
    method: str = "auto",
    settings: CompressSettings | None = None,
    model: str = "embedded",
    device: str = "auto",
    dtype: str = "auto",
    load: Callable[[], Any] | None = None,
    actors: int = 1,
    cpus_per_actor: float = 1.0,
    gpus_per_actor: float | None = None,
    batch_size: int = 16,
) -> Any:
    """``dataset``'s rows compressed, one output row each (``job.ROW_FIELDS``, as the local
    path writes them), in no particular order: join or sort on the id.

    The rows name their fields as ``lingua batch`` options do; a row whose text is missing,
    empty or not a string gets an ``error`` in its output row, as does one without a usable
    id (its output id is then ""). Ids are not checked for repeats here (the CLI does).
    ``settings`` (a ``CompressSettings``), else ``rate`` / ``target_tokens`` / ``method``,
    say how to compress. ``load`` makes each actor's compressor (default: ``model`` on
    ``device`` in ``dtype``); ``gpus_per_actor`` defaults to 1 when the cluster has GPUs.
    Lazy like any Ray Dataset: nothing runs until it is consumed or written.
    """
    from lingua_core.api import validate_budget

    if settings is None:
        settings = CompressSettings(rate, target_tokens, method)
    elif (rate, target_tokens, method) != (None, None, "auto"):
        raise InputError("compress_dataset: give either settings or rate / target_tokens / method, not both")
    validate_budget(settings.rate, settings.target_tokens)
    fields = Fields(text_field, question_field, instruction_field, id_field)
    loader = load if load is not None else ModelLoader(model, device, dtype)
    return compress_stage(dataset, settings, loader, fields, actors, cpus_per_actor, gpus_per_actor, batch_size)


def compress_stage(
    dataset: Any,
    settings: CompressSettings,
    load: Callable[[], Any],
    fields: Fields | None,
    actors: int,
    cpus_per_actor: float,
    gpus_per_actor: float | None,
    batch_size: int,
) -> Any:
    """The ``map_batches`` of ``compress_dataset`` and of ``lingua batch --ray``.

    The dataset is cut into blocks of ``batch_size`` rows first (a streaming step, no
    shuffle): Ray gives an actor whole blocks, so a corpus read as one block, such as one
    JSONL file, would otherwise go through one actor while the others wait. That cut is a
    task of one CPU (Ray Data gives it no other size), which never starts while the actors
    hold every CPU of the cluster: the job is refused then instead of waiting for ever."""
    import ray

    resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call,unused-ignore]
    needed = actors * cpus_per_actor + 1
    if needed > resources.get("CPU", 0):
        raise InputError(
            f"{actors} actors of {cpus_per_actor:g} CPUs, and one CPU for Ray Data's own tasks, need {needed:g} "
            f"CPUs; the Ray cluster has {resources.get('CPU', 0):g}: run fewer actors, or give Ray more CPUs"
        )
    if gpus_per_actor is None:
        gpus_per_actor = 1.0 if resources.get("GPU", 0) > 0 else 0.0
    # The cut is fused into the map before it, a map with the cut's own resources.
    blocks = dataset.map_batches(_unchanged, batch_format="pyarrow").repartition(target_num_rows_per_block=batch_size)
    with warnings.catch_warnings():
        # Ray 2.60 deprecates passing actor options such as these through map_batches'
        # extra arguments (to be removed in 2.64) and names no replacement for them yet.
        # When they go, ``_fault_tolerance`` passes nothing and Ray Data's own defaults
        # apply (restarts and retries without end): the job still loses no rows.
        warnings.filterwarnings("ignore", message="`ray_remote_args` is deprecated", category=DeprecationWarning)
        return blocks.map_batches(
            CompressBatch,
            fn_constructor_kwargs={"settings": settings, "load": load, "fields": fields},
            batch_size=batch_size,
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=cpus_per_actor,
            num_gpus=gpus_per_actor,
            **_fault_tolerance(blocks.map_batches),
        )


def _unchanged(batch: Any) -> Any:
    return batch


def _fault_tolerance(map_batches: Callable[..., Any]) -> dict[str, int]:
    accepts_extra = any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in inspect.signature(map_batches).parameters.values()
    )
    if not accepts_extra:
        return {}
    return {"max_restarts": ACTOR_RESTARTS, "max_task_retries": TASK_RETRIES}
