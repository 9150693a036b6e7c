"""One optimizer step, as both trainers (the LLMLingua-2 classifier and the causal LM's
alignment) take it.

The order matters and is easy to get subtly wrong in one copy: gradients are unscaled before
they are clipped (else the clip threshold applies to fp16-scaled values), and the scaler may
skip a step whose gradients overflowed, which only its own ``step`` knows to do.
"""

from __future__ import annotations

from typing import Any


def autocast_dtype(device: Any, wanted: bool = True) -> Any:
    """Mixed precision on CUDA only: CPU autocast gains nothing without bf16 units and MPS's is
    partial. bf16 where the card has it, as it needs no loss scaling; else fp16."""
    import torch

    if not wanted or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def grad_scaler(dtype: Any) -> Any:
    """fp16's narrow range underflows small gradients unless the loss is scaled; bf16 and fp32 need no scaler."""
    import torch

    return torch.amp.GradScaler("cuda") if dtype == torch.float16 else None


def to_device(batch: dict[str, Any], device: Any) -> dict[str, Any]:
    return {name: tensor.to(device) for name, tensor in batch.items()}


def backward(loss: Any, scaler: Any) -> None:
    (scaler.scale(loss) if scaler is not None else loss).backward()


def optimizer_step(model: Any, optimizer: Any, scheduler: Any, scaler: Any, max_grad_norm: float) -> None:
    """Once per optimizer step, after the backward passes of all the batches it accumulates:
    the gradients are cleared here."""
    import torch

    if scaler is not None:
        scaler.unscale_(optimizer)
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
