"""What one alignment run is asked to do: its options, checked before any model loads, and the
learning-rate schedule they name.

Apart from the training loop so that the options can be built and checked, and the schedule
tested, without torch; ``lingua_core.train.instruct`` runs them.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lingua_core.errors import InputError
from lingua_core.models import EMBEDDED

SCHEDULES = ("cosine", "linear", "constant")
TEMPLATES = ("auto", "chat", "plain")
# The options that decide which updates happen: a resumed run must keep the checkpoint's.
TRAJECTORY = (
    "model",
    "epochs",
    "max_steps",
    "lr",
    "batch_size",
    "grad_accum",
    "max_length",
    "val_fraction",
    "warmup",
    "schedule",
    "weight_decay",
    "max_grad_norm",
    "template",
    "seed",
)


@dataclass(frozen=True)
class AlignConfig:
    """Everything one alignment run needs; the CLI maps its flags one to one onto these."""

    pairs: Path
    out: Path
    model: str = EMBEDDED
    epochs: int = 1
    max_steps: int | None = None  # overrides epochs
    lr: float = 5e-5
    batch_size: int = 8
    grad_accum: int = 1
    max_length: int = 512
    val_fraction: float = 0.05
    patience: int = 3  # evaluations without a better validation loss before stopping; 0 = never stop
    eval_every: int | None = None  # optimizer steps; None = about ten evaluations per run
    save_every: int = 200  # optimizer steps between checkpoints; 0 = none
    warmup: float = 0.05  # share of the steps
    schedule: str = "cosine"
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    template: str = "auto"  # chat when the tokenizer has a chat template
    resume: bool = False
    device: str = "auto"
    dtype: str = "auto"  # of the saved model; auto = the source's
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        positive = {"epochs": self.epochs, "batch_size": self.batch_size, "grad_accum": self.grad_accum}
        positive |= {
            "max_length": self.max_length,
            "max_steps": self.max_steps or 1,
            "eval_every": self.eval_every or 1,
        }
        for name, value in positive.items():
            if value < 1:
                raise InputError(f"--{name.replace('_', '-')} must be at least 1; got {value}.")
        if self.max_length < 8:
            raise InputError(f"--max-length {self.max_length} leaves no room for an instruction and a response.")
        if not self.lr > 0:
            raise InputError(f"--lr must be positive; got {self.lr}.")
        if not 0.0 <= self.val_fraction < 1.0:
            raise InputError(f"--val-fraction must be in [0, 1); got {self.val_fraction}.")
        if not 0.0 <= self.warmup < 1.0:
            raise InputError(f"--warmup is a share of the steps, in [0, 1); got {self.warmup}.")
        if min(self.patience, self.save_every) < 0 or self.weight_decay < 0 or self.max_grad_norm <= 0:
            raise InputError("--patience, --save-every and --weight-decay cannot be negative; --max-grad-norm > 0.")
        if self.schedule not in SCHEDULES:
            raise InputError(f"--schedule must be one of {', '.join(SCHEDULES)}; got {self.schedule!r}.")
        if self.template not in TEMPLATES:
            raise InputError(f"--template must be one of {', '.join(TEMPLATES)}; got {self.template!r}.")

    def trajectory(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in TRAJECTORY}

    def to_json(self) -> dict[str, Any]:
        return {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(self).items()}


def lr_factor(step: int, total: int, warmup_steps: int, schedule: str) -> float:
    """Multiplier of the peak learning rate for optimizer step ``step`` (0-based)."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    progress = min(1.0, (step - warmup_steps) / max(1, total - warmup_steps))
    if schedule == "linear":
        return 1.0 - progress
    return 0.5 * (1.0 + math.cos(math.pi * progress))
