"""Resumable training state on disk: weights, optimizer, scheduler, loss scaler, RNG, counters.

A fine-tune on a laptop CPU runs for hours and gets interrupted; a resumed run must continue
the same trajectory, not restart the schedule or re-see the same batches. The data order is
recomputed from the seed, so the step counter is enough to find the next batch; the RNG
states cover anything random inside the model (dropout).

Each save is written to a staging folder and swapped in, so a crash mid-save leaves the
previous checkpoint intact. Nothing here is specific to causal LMs.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from lingua_core.errors import InputError

CHECKPOINT = "checkpoint"
BEST = "best"
STATE_FILE = "state.json"
WEIGHTS_FILE = "model.safetensors"
TRAINER_FILE = "trainer.pt"


def _swap_in(staging: Path, target: Path) -> None:
    """Replace ``target`` by ``staging``; at every instant one complete copy exists on disk."""
    retired = target.with_name(target.name + ".old")
    if retired.exists():
        shutil.rmtree(retired)
    if target.exists():
        target.rename(retired)
    staging.rename(target)
    if retired.exists():
        shutil.rmtree(retired)


def _staging(target: Path) -> Path:
    staging = target.with_name(target.name + ".partial")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    return staging


def _rng_state() -> dict[str, Any]:
    """Torch's generators only: the data order comes from seeded numpy generators made afresh."""
    import torch

    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def _restore_rng(state: dict[str, Any]) -> None:
    import torch

    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    folder: Path, model: Any, optimizer: Any, scheduler: Any, scaler: Any, state: dict[str, Any]
) -> None:
    """Everything needed to continue after ``state['step']`` optimizer steps."""
    import torch
    from safetensors.torch import save_model

    staging = _staging(folder)
    save_model(model, str(staging / WEIGHTS_FILE))
    trainer = {
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict() if scaler is not None else None,
        "rng": _rng_state(),
    }
    torch.save(trainer, staging / TRAINER_FILE)
    (staging / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    _swap_in(staging, folder)


def read_state(folder: Path) -> dict[str, Any] | None:
    """The counters of a checkpoint, or None when there is none (a run that never saved)."""
    path = folder / STATE_FILE
    if not path.is_file():
        return None
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"The checkpoint in {folder} is unreadable ({exc}); delete it to start over.") from None
    if not isinstance(state, dict):
        raise InputError(f"The checkpoint in {folder} is not a training state; delete it to start over.")
    return state


def load_checkpoint(folder: Path, model: Any, optimizer: Any, scheduler: Any, scaler: Any) -> None:
    """Put weights, optimizer, scheduler, scaler and RNG back as they were at the save."""
    import torch
    from safetensors.torch import load_model

    load_model(model, str(folder / WEIGHTS_FILE), device=str(next(model.parameters()).device))
    # weights_only: a checkpoint folder may come from elsewhere, and unpickling runs code.
    trainer = torch.load(folder / TRAINER_FILE, map_location="cpu", weights_only=True)
    optimizer.load_state_dict(trainer["optimizer"])
    scheduler.load_state_dict(trainer["scheduler"])
    if scaler is not None and trainer.get("scaler") is not None:
        scaler.load_state_dict(trainer["scaler"])
    _restore_rng(trainer["rng"])


def save_best(folder: Path, model: Any, step: int, loss: float) -> None:
    """The weights with the lowest validation loss so far, which the run ends with."""
    from safetensors.torch import save_model

    staging = _staging(folder)
    save_model(model, str(staging / WEIGHTS_FILE))
    (staging / STATE_FILE).write_text(json.dumps({"step": step, "val_loss": loss}) + "\n", encoding="utf-8")
    _swap_in(staging, folder)


def load_weights(folder: Path, model: Any) -> None:
    from safetensors.torch import load_model

    load_model(model, str(folder / WEIGHTS_FILE), device=str(next(model.parameters()).device))
