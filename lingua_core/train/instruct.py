"""Distribution alignment: instruction-tune the small causal LM on the target LLM's answers.

LLMLingua drops the tokens the small LM finds predictable. That ranking serves the target
LLM only if both models find the same tokens predictable, so the paper fine-tunes the small
LM on text the target wrote (its answers to instructions): the small LM's distribution moves
towards the target's, and its perplexities rank tokens more the way the target would.

The whole model is tuned: a 135M-parameter model and its AdamW state fit in 2 GB, and
the saved folder stays a plain checkpoint that ``lingua compress --model`` loads. Master
weights are float32 everywhere: updates of 1e-5 relative size vanish when added to bf16
weights (8 mantissa bits), so a bf16 checkpoint is upcast for training; on CUDA the forward
pass runs under bf16 (or fp16 with loss scaling) autocast for speed. The result is cast back
to the source's dtype, or the one asked for, when saved.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lingua_core.errors import InputError, ModelError
from lingua_core.models import (
    ModelKind,
    allow_download_default,
    load_model,
    resolve_device,
    resolve_dtype,
    resolve_spec,
)
from lingua_core.terminal import TerminalBar
from lingua_core.train.align_config import TRAJECTORY, AlignConfig, lr_factor
from lingua_core.train.batching import IGNORE_INDEX, collate, length_grouped_batches
from lingua_core.train.checkpoint import (
    BEST,
    CHECKPOINT,
    load_checkpoint,
    load_weights,
    read_state,
    save_best,
    save_checkpoint,
)
from lingua_core.train.instruct_data import (
    Example,
    encode_all,
    has_chat_template,
    read_pairs,
    split_validation,
    steps_per_epoch,
)
from lingua_core.train.quiet import quiet_transformers
from lingua_core.train.stepping import autocast_dtype, backward, grad_scaler, optimizer_step, to_device

SUMMARY_FILE = "training_summary.json"
SUMMARY_FORMAT = "lingua-align/1"
# What an unfinished run leaves behind besides its checkpoint; a fresh --resume may clear it.
_SCRATCH = {BEST, f"{BEST}.partial", f"{BEST}.old", f"{CHECKPOINT}.partial", f"{CHECKPOINT}.old"}


@dataclass(frozen=True)
class _Precision:
    """How the forward pass computes; the master weights are float32 whatever this says."""

    device: Any
    autocast_dtype: Any  # None: plain float32

    @property
    def name(self) -> str:
        return "fp32" if self.autocast_dtype is None else f"{str(self.autocast_dtype).removeprefix('torch.')} autocast"

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        import torch

        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)


def _precision(device: Any) -> _Precision:
    return _Precision(device, autocast_dtype(device))


def _source_dtype(spec: str) -> Any:
    """The dtype the checkpoint is stored in; the loaded model is upcast, so ask its config file."""
    import torch
    from transformers import AutoConfig

    source, kwargs = resolve_spec(spec, allow_download_default())
    try:
        config = AutoConfig.from_pretrained(source, **kwargs)
    except (OSError, ValueError):
        return torch.float32
    dtype = getattr(config, "dtype", None)
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype, None)
    return dtype if isinstance(dtype, torch.dtype) and dtype.is_floating_point else torch.float32


def _existing_run(config: AlignConfig) -> dict[str, Any] | None:
    """The checkpoint state to resume from, or None for a fresh run; never overwrites a result."""
    out = config.out
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; give a folder for the aligned model.")
    if (out / SUMMARY_FILE).is_file():
        raise InputError(
            f"{out} already holds a finished alignment; pick a new --out (to train it further, pass --model {out})."
        )
    state = read_state(out / CHECKPOINT) if out.is_dir() else None
    if state is not None:
        if not config.resume:
            raise InputError(
                f"{out} holds an unfinished run (step {state.get('step')}); "
                "add --resume to continue it or pick a new --out."
            )
        return state
    entries = {entry.name for entry in out.iterdir()} if out.is_dir() else set()
    if config.resume and entries <= _SCRATCH:
        for name in entries:  # a run that stopped before its first checkpoint: start it again
            shutil.rmtree(out / name)
        return None
    if entries:
        if config.resume:
            raise InputError(f"{out} has no checkpoint to resume from; pick a new --out.")
        raise InputError(f"{out} exists and is not empty; pick a new --out.")
    return None


def _check_resumable(state: dict[str, Any], config: AlignConfig, data_sha256: str) -> None:
    if state.get("data_sha256") != data_sha256:
        raise InputError(f"{config.pairs} is not the pairs file the checkpoint in {config.out} was trained on.")
    saved = state.get("config") or {}
    current = config.trajectory()
    differing = [name for name in TRAJECTORY if saved.get(name) != current[name]]
    if differing:
        listed = ", ".join(f"--{n.replace('_', '-')} {saved.get(n)!r} (now {current[n]!r})" for n in differing)
        raise InputError(f"--resume must keep the checkpoint's options: {listed}.")


def _loss_sum(model: Any, batch: dict[str, Any], precision: _Precision) -> tuple[Any, int]:
    """Summed cross-entropy over the response tokens and their count.

    Summing (not averaging per batch) lets accumulated micro-batches of unequal response
    lengths weigh every token the same, as one large batch would.
    """
    import torch.nn.functional as F

    with precision.autocast():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False).logits
    labels = batch["labels"][:, 1:]
    mask = labels != IGNORE_INDEX
    picked = logits[:, :-1][mask].float()
    return F.cross_entropy(picked, labels[mask], reduction="sum"), int(mask.sum())


def _evaluate(model: Any, batches: Sequence[dict[str, Any]], precision: _Precision) -> float:
    """Mean loss per response token of the held-out pairs."""
    import torch

    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for batch in batches:
            loss, tokens = _loss_sum(model, to_device(batch, precision.device), precision)
            total += float(loss)
            count += tokens
    model.train()
    return total / max(1, count)


def _check_trainable(model: Any, spec: str) -> None:
    if any(not parameter.is_floating_point() for parameter in model.parameters()):
        raise ModelError(f"{spec} holds quantized weights, which cannot be fine-tuned; give a float checkpoint.")


def _use_chat(template: str, tokenizer: Any, spec: str) -> bool:
    if template == "chat" and not has_chat_template(tokenizer):
        raise InputError(f"{spec} has no chat template; use --template plain (or auto).")
    return template == "chat" or (template == "auto" and has_chat_template(tokenizer))


def save_aligned(model: Any, tokenizer: Any, out: Path, dtype: Any) -> None:
    """A plain transformers folder: no quantization record, the asked dtype, the tokenizer beside."""
    # A model that went through GGUF remembers its quantization and refuses to save, and the
    # record would make the next load try to dequantize plain tensors; the weights are floats.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    setattr(model, "hf_quantizer", None)  # noqa: B010 - typed as never None
    model.to(dtype=dtype)
    model.config.use_cache = True
    with quiet_transformers():
        model.save_pretrained(out)
    tokenizer.save_pretrained(out)


class _Run:
    """The mutable side of one training run: counters, histories and the best weights so far."""

    def __init__(self, config: AlignConfig, data_sha256: str, resumed: dict[str, Any] | None) -> None:
        self.config = config
        previous = resumed or {}
        self.step: int = int(previous.get("step", 0))
        self.train_losses: list[float] = list(previous.get("train_losses", []))
        self.val_losses: list[list[float]] = list(previous.get("val_losses", []))
        self.bad_evals: int = int(previous.get("bad_evals", 0))
        self.tokens: int = int(previous.get("tokens", 0))
        self.seconds_before: float = float(previous.get("seconds", 0.0))
        self.resumed_from: int | None = self.step if resumed else None
        self.data_sha256 = data_sha256
        self.started = time.perf_counter()
        self.best_step: int | None = None
        self.best_loss: float | None = None
        best_state = read_state(config.out / BEST)
        if resumed and best_state is not None:
            self.best_step, self.best_loss = int(best_state["step"]), float(best_state["val_loss"])

    @property
    def seconds(self) -> float:
        return self.seconds_before + time.perf_counter() - self.started

    def state(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "train_losses": self.train_losses,
            "val_losses": self.val_losses,
            "bad_evals": self.bad_evals,
            "tokens": self.tokens,
            "seconds": self.seconds,
            "data_sha256": self.data_sha256,
            "config": self.config.trajectory(),
        }

    def report(self, total: int, train_loss: float | None) -> str:
        step, loss = self.val_losses[-1]
        train = f", running train loss {train_loss:.4f}" if train_loss is not None else ""
        return f"step {int(step)}/{total}{train}, validation loss {loss:.4f} (best {self.best_loss:.4f})"

    def record_validation(self, loss: float, model: Any) -> bool:
        """Keep the weights if they are the best yet; True when patience has run out."""
        self.val_losses.append([self.step, loss])
        if self.best_loss is None or loss < self.best_loss:
            self.best_step, self.best_loss, self.bad_evals = self.step, loss, 0
            save_best(self.config.out / BEST, model, self.step, loss)
            return False
        self.bad_evals += 1
        return 0 < self.config.patience <= self.bad_evals


def _optimizer(model: Any, config: AlignConfig, total: int, device: Any) -> tuple[Any, Any]:
    """AdamW without decay on norms and biases (decaying a norm's gain towards 0 only hurts),
    and its warm-up then decay schedule."""
    import torch

    decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.lr,
        fused=device.type == "cuda",
    )
    warmup_steps = round(total * config.warmup)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total, warmup_steps, config.schedule)
    )
    return optimizer, scheduler


def _log(config: AlignConfig, bar: TerminalBar, message: str) -> None:
    """One line per evaluation, so a run logged to a file (no progress bar there) shows where it is."""
    if config.progress:
        bar.write(message)


def _epoch_batches(lengths: Sequence[int], config: AlignConfig, epoch: int) -> list[list[int]]:
    return length_grouped_batches(lengths, config.batch_size, (config.seed, epoch))


def _validation_batches(examples: Sequence[Example], batch_size: int, pad_id: int) -> list[dict[str, Any]]:
    order = sorted(range(len(examples)), key=lambda i: len(examples[i].input_ids))
    chunks = [order[k : k + batch_size] for k in range(0, len(order), batch_size)]
    return [collate([examples[i] for i in chunk], pad_id) for chunk in chunks]


def align(config: AlignConfig) -> dict[str, Any]:
    """Fine-tune ``config.model`` on ``config.pairs`` and save it into ``config.out``.

    Returns the summary also written to ``training_summary.json``, without the per-step
    loss history that only the file keeps.
    """
    pairs = read_pairs(config.pairs)
    resumed = _existing_run(config)
    if resumed is not None:
        _check_resumable(resumed, config, pairs.sha256)

    import torch

    torch.manual_seed(config.seed)
    device = resolve_device(config.device)
    save_dtype = None if config.dtype == "auto" else resolve_dtype(config.dtype)  # a bad name fails before loading
    with quiet_transformers():
        lm = load_model(config.model, device=device, dtype=torch.float32, backend="transformers")  # trains, saves
    save_dtype = save_dtype or _source_dtype(config.model)  # after loading: a hub model is in the cache now
    if lm.kind is not ModelKind.CAUSAL_LM:
        raise ModelError(f"{lm.name} is a token classifier; alignment tunes a causal LM (the LLMLingua scorer).")
    model, tokenizer = lm.model, lm.tokenizer
    _check_trainable(model, config.model)
    chat = _use_chat(config.template, tokenizer, config.model)
    encoded = encode_all(tokenizer, pairs.conversations, chat, config.max_length)
    if not encoded.examples:
        raise InputError(f"No pair has a response token within --max-length {config.max_length}; raise it.")
    train_ids, val_ids = split_validation(len(encoded.examples), config.val_fraction, config.seed)
    train = [encoded.examples[i] for i in train_ids]
    val = [encoded.examples[i] for i in val_ids]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id or 0

    per_epoch = steps_per_epoch(math.ceil(len(train) / config.batch_size), config.grad_accum)
    total = config.max_steps or config.epochs * per_epoch
    eval_every = config.eval_every or max(1, math.ceil(total / 10))
    precision = _precision(device)
    optimizer, scheduler = _optimizer(model, config, total, device)
    scaler = grad_scaler(precision.autocast_dtype)
    config.out.mkdir(parents=True, exist_ok=True)
    if resumed is not None:
        load_checkpoint(config.out / CHECKPOINT, model, optimizer, scheduler, scaler)
    run = _Run(config, pairs.sha256, resumed)
    val_batches = _validation_batches(val, config.batch_size, pad_id)
    model.train()

    stopped = False
    bar = TerminalBar("aligning", "step", enabled=config.progress, initial=run.step)
    if val_batches and run.step == 0 and not run.val_losses:
        stopped = run.record_validation(_evaluate(model, val_batches, precision), model)
        _log(config, bar, run.report(total, None))
    lengths = [len(example.input_ids) for example in train]
    saved_step = run.step
    safe_to_save = True  # False while the weights are half-updated or a save is under way
    running: float | None = None
    epoch_cache: tuple[int, list[list[int]]] = (-1, [])
    try:
        while run.step < total and not stopped:
            epoch, index = divmod(run.step, per_epoch)
            if epoch_cache[0] != epoch:
                epoch_cache = (epoch, _epoch_batches(lengths, config, epoch))
            groups = epoch_cache[1][index * config.grad_accum : (index + 1) * config.grad_accum]
            step_examples = [[train[i] for i in group] for group in groups]
            step_tokens = sum(example.trained_tokens for group in step_examples for example in group)
            loss_total = 0.0
            for examples in step_examples:
                batch = to_device(collate(examples, pad_id), device)
                loss_sum, _ = _loss_sum(model, batch, precision)
                loss = loss_sum / step_tokens
                backward(loss, scaler)
                loss_total += float(loss_sum.detach())
            safe_to_save = False
            optimizer_step(model, optimizer, scheduler, scaler, config.max_grad_norm)
            run.step += 1
            run.tokens += step_tokens
            step_loss = loss_total / step_tokens
            run.train_losses.append(step_loss)
            safe_to_save = True
            running = step_loss if running is None else 0.9 * running + 0.1 * step_loss
            bar(run.step, total, loss=f"{running:.4f}", lr=f"{scheduler.get_last_lr()[0]:.2e}")
            if val_batches and (run.step % eval_every == 0 or run.step == total):
                safe_to_save = False
                stopped = run.record_validation(_evaluate(model, val_batches, precision), model)
                safe_to_save = True
                _log(config, bar, run.report(total, running))
            if config.save_every and run.step % config.save_every == 0 and run.step < total and not stopped:
                safe_to_save = False
                save_checkpoint(config.out / CHECKPOINT, model, optimizer, scheduler, scaler, run.state())
                saved_step, safe_to_save = run.step, True
    except KeyboardInterrupt:
        if safe_to_save and run.step > saved_step:
            optimizer.zero_grad(set_to_none=True)  # a half-accumulated step is dropped, not saved
            save_checkpoint(config.out / CHECKPOINT, model, optimizer, scheduler, scaler, run.state())
        raise
    finally:
        bar.close()

    restored = run.best_step is not None and run.best_step != run.step
    if restored:
        load_weights(config.out / BEST, model)
    save_aligned(model, tokenizer, config.out, save_dtype)
    summary: dict[str, Any] = {
        "format": SUMMARY_FORMAT,
        "out": str(config.out),
        "base_model": config.model,
        "base_model_name": lm.name,
        "data": str(config.pairs),
        "data_sha256": pairs.sha256,
        "template": "chat" if chat else "plain",
        "train_examples": len(train),
        "val_examples": len(val),
        "skipped_empty": pairs.skipped_empty,
        "dropped_too_long": encoded.dropped_too_long,
        "truncated": encoded.truncated,
        "steps": run.step,
        "total_steps": total,
        "epochs": round(run.step / per_epoch, 4),
        "resumed_from_step": run.resumed_from,
        "early_stopped": stopped,
        "tokens_trained": run.tokens,
        "train_loss_first": run.train_losses[0] if run.train_losses else None,
        "train_loss_last": run.train_losses[-1] if run.train_losses else None,
        "val_loss_before": run.val_losses[0][1] if run.val_losses else None,
        "val_loss_last": run.val_losses[-1][1] if run.val_losses else None,
        "val_loss_best": run.best_loss,
        "best_step": run.best_step,
        "restored_best": restored,
        "seconds": round(run.seconds, 3),
        "device": str(device),
        "precision": precision.name,
        "dtype": str(save_dtype).removeprefix("torch."),
    }
    detail = {**summary, "config": config.to_json(), "train_losses": run.train_losses, "val_losses": run.val_losses}
    (config.out / SUMMARY_FILE).write_text(json.dumps(detail, indent=2) + "\n", encoding="utf-8")
    for scratch in (BEST, CHECKPOINT):
        shutil.rmtree(config.out / scratch, ignore_errors=True)
    return summary
