"""``lingua batch --ray``: the local job's output and resume, with Ray Data doing the work.

The same parts folder as the local path (``output.ShardWriter``): its manifest says which
job the shards belong to, the positions already written are skipped when the corpus is
read, the new rows are written there by Ray's ``write_parquet`` (on this machine, where the
merge reads them), and the merge makes OUTPUT in input order, each record once, with the
local reader's ``id#N`` for a repeated id (which only the merge, seeing the whole input in
order, can tell). A Ray job's positions are not the local path's, so its manifest says
``runner: ray`` and the two cannot resume each other's parts.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import time
from pathlib import Path
from typing import Any

from lingua_core.batch.job import CompressSettings
from lingua_core.batch.local import Totals
from lingua_core.batch.on_ray import ModelLoader, compress_stage
from lingua_core.batch.output import ShardWriter
from lingua_core.batch.ray_input import driver_node, read_corpus
from lingua_core.batch.records import Fields
from lingua_core.errors import InputError

LOCAL = "local"  # ``--ray`` without an address: a Ray started here for the job
CONNECT_SECONDS = 5.0


def require_ray() -> None:
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise InputError("--ray needs Ray: pip install 'lingua-prompt[ray]'") from None


def connect(address: str, actors: int | None, cpus_per_actor: float) -> int:
    """Start a Ray here (``LOCAL``) or join the cluster at ``address``; the number of actors
    the job runs (``actors``, else one per GPU, else as many as the CPUs hold)."""
    import ray

    if address == LOCAL:
        cpus = os.cpu_count() or 1
        if actors is None:
            actors = max(1, int(cpus // cpus_per_actor))
        ray.init(
            address="local",
            # One logical CPU more than the actors take, for Ray Data's light tasks (reading,
            # cutting into batches); more actors than cores is the caller's choice.
            num_cpus=max(cpus, math.ceil(actors * cpus_per_actor)) + 1,
            include_dashboard=False,
            logging_level=logging.WARNING,
            log_to_driver=False,
        )
    else:
        _check_reachable(address)
        try:
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        except (ConnectionError, TimeoutError, ValueError, RuntimeError) as exc:
            raise InputError(f"cannot join the Ray cluster at {address}: {_first_line(exc)}") from None
    if actors is None:
        resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call,unused-ignore]
        spare = resources.get("CPU", 0) - 1  # one for Ray Data's own tasks (``on_ray.compress_stage``)
        actors = int(resources.get("GPU", 0)) or max(1, int(spare // cpus_per_actor))
    return actors


def _check_reachable(address: str) -> None:
    """Fail at once on an address nothing listens at: ``ray.init`` would retry for minutes."""
    if address == "auto":
        return
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not host or not port.isdigit():
        raise InputError(f"--ray {address}: give the cluster's HOST:PORT, as `ray start --head` prints it")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_SECONDS):
            pass
    except OSError as exc:
        raise InputError(f"cannot reach a Ray cluster at {address}: {exc.strerror or exc}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def quiet_ray_data(progress: bool) -> None:
    """Ray Data's progress bars stand in for the local bar; its INFO lines are for Ray's logs."""
    import ray.data

    ray.data.DataContext.get_current().enable_progress_bars = progress
    logging.getLogger("ray.data").setLevel(logging.WARNING if progress else logging.ERROR)


def run_ray(
    source: str,
    output: Path,
    settings: CompressSettings,
    fields: Fields,
    job: dict[str, Any],
    *,
    loader: ModelLoader,
    actors: int,
    cpus_per_actor: float = 1.0,
    gpus_per_actor: float | None = None,
    batch_size: int = 64,
) -> tuple[Totals, str]:
    """The job on the connected Ray; its totals (over every row of the output) and the model
    the rows name."""
    started = time.perf_counter()
    writer = ShardWriter(output, job, batch_size)
    done = writer.done_positions()
    records = read_corpus(source, fields, skip=done)
    rows = compress_stage(records, settings, loader, None, actors, cpus_per_actor, gpus_per_actor, batch_size)
    rows.write_parquet(str(writer.parts), ray_remote_args={"num_cpus": 0, "resources": driver_node()})
    totals = Totals(compressed_now=len(writer.done_positions() - done))
    models: list[str] = []

    def count(row: dict[str, Any]) -> None:
        totals.add(row)
        if not models and row["model"]:
            models.append(row["model"])

    writer.finish(count, mark_duplicates=True)
    totals.seconds = time.perf_counter() - started
    return totals, models[0] if models else loader.model
