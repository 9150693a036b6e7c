"""Fine-tune an encoder into an LLMLingua-2 keep/drop token classifier.

The data path: labelled words (:mod:`lingua_core.train.dataset`) → encoder windows cut and
tokenized by the same code inference uses (:func:`~lingua_core.methods.llmlingua2_windows.encode_windows`)
→ each sub-token labelled from the word it overlaps → cross-entropy on two labels → a
checkpoint ``lingua compress --model DIR`` loads as an LLMLingua-2 compressor.

Training on inference's own windows matters: a model that learned on sentence-split text
but scores 512-token windows, or on other sub-token boundaries, meets inputs it never saw.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from lingua_core.errors import InputError, ModelError
from lingua_core.methods.llmlingua2_scores import aggregate
from lingua_core.methods.llmlingua2_windows import encode_windows
from lingua_core.models import (
    LoadedModel,
    ModelKind,
    allow_download_default,
    hub_missing_message,
    resolve_device,
    resolve_spec,
)
from lingua_core.train.batching import IGNORE_INDEX, collate, length_grouped_batches, sorted_batches
from lingua_core.train.checkpoint import load_checkpoint, read_state, save_checkpoint
from lingua_core.train.dataset import LabelledSample
from lingua_core.train.quiet import quiet_transformers
from lingua_core.train.stepping import autocast_dtype, backward, grad_scaler, optimizer_step, to_device
from lingua_core.words import Aggregation, Words, overlap_pairs

LABELS = {0: "drop", 1: "keep"}
STATE_DIR = "training-state"  # under the output folder: what --resume needs (see train.checkpoint)
SUMMARY_FILE = "training_summary.json"

LabelScope = Literal["all", "first"]


@dataclass(frozen=True)
class ClassifierTrainingOptions:
    """Defaults suit a small encoder on a few thousand samples; the paper trained XLM-R large
    with lr 1e-5 for 10 epochs on far more data."""

    epochs: int = 5
    batch_size: int = 16
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    label_scope: LabelScope = "all"  # sub-tokens trained: every one of a word, or its first
    val_fraction: float = 0.1
    patience: int = 2  # epochs without a better validation F1 before stopping
    max_seq_len: int = 512
    seed: int = 42
    device: str = "auto"
    mixed_precision: bool = True  # on CUDA only; CPU trains in fp32


@dataclass(frozen=True)
class Metrics:
    """Keep-class scores on the validation split, at the token level (what the loss sees)
    and at the word level (what compression uses: mean of a word's sub-token probabilities)."""

    loss: float
    token_precision: float
    token_recall: float
    token_f1: float
    word_precision: float
    word_recall: float
    word_f1: float
    keep_rate: float  # predicted share of words kept
    gold_keep_rate: float


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    seconds: float
    metrics: Metrics


@dataclass
class TrainingReport:
    output_dir: str
    base_model: str
    train_samples: int
    val_samples: int
    train_windows: int
    best_epoch: int
    stopped_early: bool
    history: list[EpochRecord] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Encoded:
    """One encoder window with a label per token; offsets let word metrics aggregate as inference does."""

    sample: int
    first: int  # the window's first word: orders a sample's windows
    input_ids: list[int]
    labels: list[int]
    offsets: Any  # (n, 2) char ranges in the sample's text; specials (0, 0)
    special: Any  # (n,) bool


WindowProbs = dict[int, list[tuple[Encoded, Any]]]  # sample -> its windows and their p(keep)


# --- data ----------------------------------------------------------------------------------


def sample_words(sample: LabelledSample) -> Words:
    starts = np.asarray([s for s, _ in sample.spans], dtype=np.int64)
    ends = np.asarray([e for _, e in sample.spans], dtype=np.int64)
    if len(starts) > 1 and (np.any(starts[1:] < ends[:-1]) or np.any(ends <= starts)):
        raise InputError("word spans must be sorted, non-empty and disjoint")
    return Words(sample.text, starts, ends)


def encode_samples(
    lm: LoadedModel, samples: Sequence[LabelledSample], max_seq_len: int, scope: LabelScope
) -> list[Encoded]:
    """Token ids and labels for every window of every sample.

    A token takes the label of the word it overlaps (keep if any of several overlapped words
    is kept, e.g. a piece spanning two CJK characters). With ``scope="first"`` only a word's
    first token carries its label, as in the usual NER recipe; ``"all"`` trains every
    sub-token, which suits inference averaging them.
    """
    all_words = [sample_words(s) for s in samples]
    label_arrays = [np.asarray(s.labels, dtype=np.int64) for s in samples]
    out: list[Encoded] = []
    for chunk in encode_windows(lm, all_words, max_seq_len):
        words, word_labels = all_words[chunk.context], label_arrays[chunk.context]
        labels = np.full(len(chunk.ids), IGNORE_INDEX, dtype=np.int64)
        inner = np.flatnonzero(~chunk.special)
        token, word = overlap_pairs(words, chunk.offsets[inner, 0], chunk.offsets[inner, 1])
        if token.size:
            positions = inner[token]
            if scope == "first":
                _, first = np.unique(word, return_index=True)  # pairs come in token order
                positions, word = positions[first], word[first]
            np.maximum.at(labels, positions, word_labels[word])
        out.append(Encoded(chunk.context, chunk.first, list(chunk.ids), labels.tolist(), chunk.offsets, chunk.special))
    return out


def split_train_val(count: int, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Sample indices for training and validation; a sample never straddles both."""
    if not 0.0 <= fraction < 1.0:
        raise InputError(f"the validation fraction must be in [0, 1); got {fraction}")
    order = list(range(count))
    random.Random(seed).shuffle(order)
    val_count = round(count * fraction)
    if fraction > 0 and count >= 2:
        val_count = min(max(val_count, 1), count - 1)
    return sorted(order[val_count:]), sorted(order[:val_count])


# --- model ---------------------------------------------------------------------------------


def load_base_encoder(spec: str, device: str = "auto", allow_download: bool | None = None) -> LoadedModel:
    """An encoder with a fresh (or its existing) 2-label token-classification head, in fp32.

    Hub ids follow the compressor's rule: from the local cache unless downloads are allowed
    (``LINGUA_ALLOW_DOWNLOAD=1``).
    """
    import torch
    from transformers import AutoConfig, AutoModelForTokenClassification, AutoTokenizer

    if allow_download is None:
        allow_download = allow_download_default()
    source, kwargs = resolve_spec(spec, allow_download)
    try:
        config = AutoConfig.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as exc:
        if kwargs.get("local_files_only") and source == spec and not Path(spec).expanduser().exists():
            raise ModelError(hub_missing_message(spec)) from exc
        raise ModelError(f"Cannot read the model config of {spec!r}: {exc}") from exc
    if getattr(config, "is_decoder", False) or any(
        a.endswith(("ForCausalLM", "LMHeadModel")) for a in getattr(config, "architectures", None) or []
    ):
        raise ModelError(f"{spec!r} is a causal LM; LLMLingua-2 trains a bidirectional encoder (BERT, XLM-R...).")
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
        with quiet_transformers():  # the expected "new head weights" report is noise here
            model = AutoModelForTokenClassification.from_pretrained(
                source,
                num_labels=2,
                id2label=LABELS,
                label2id={v: k for k, v in LABELS.items()},
                ignore_mismatched_sizes=True,  # a checkpoint with another head gets a new one
                dtype=torch.float32,
                use_safetensors=True,
                **kwargs,
            )
    except (OSError, ValueError) as exc:
        raise ModelError(f"Cannot load encoder {spec!r}: {exc}") from exc
    if not getattr(tokenizer, "is_fast", False):
        raise ModelError(f"{spec!r} has no fast tokenizer (tokenizer.json); training needs character offsets.")
    torch_device = resolve_device(device)
    model.to(torch_device)
    positions = int(getattr(config, "max_position_embeddings", 512) or 512)
    return LoadedModel(spec, spec, ModelKind.TOKEN_CLASSIFIER, model, tokenizer, torch_device, torch.float32, positions)


# --- evaluation ----------------------------------------------------------------------------


def _prf(true_positive: float, predicted: float, actual: float) -> tuple[float, float, float]:
    precision = true_positive / predicted if predicted else 0.0
    recall = true_positive / actual if actual else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def evaluate(lm: LoadedModel, items: Sequence[Encoded], samples: Sequence[LabelledSample], batch_size: int) -> Metrics:
    """Keep-class precision/recall/F1 at argmax (p(keep) > 0.5), tokens and words."""
    import torch

    pad_id = int(lm.tokenizer.pad_token_id or 0)
    model = lm.model
    was_training = model.training
    model.eval()
    loss_sum = 0.0
    loss_tokens = 0
    tp = pred = gold = 0
    token_probs: WindowProbs = {}
    with torch.inference_mode():
        for indices in sorted_batches([len(item.input_ids) for item in items], batch_size):
            batch = [items[i] for i in indices]
            tensors = to_device(collate(batch, pad_id), lm.device)
            logits = model(input_ids=tensors["input_ids"], attention_mask=tensors["attention_mask"]).logits.float()
            labels = tensors["labels"]
            valid = labels != IGNORE_INDEX
            loss_sum += float(torch.nn.functional.cross_entropy(logits[valid], labels[valid], reduction="sum"))
            loss_tokens += int(valid.sum())
            probs = logits.softmax(-1)[..., 1]
            predicted = (probs > 0.5) & valid
            actual = (labels == 1) & valid
            tp += int((predicted & actual).sum())
            pred += int(predicted.sum())
            gold += int(actual.sum())
            for row, item in enumerate(batch):
                token_probs.setdefault(item.sample, []).append((item, probs[row, : len(item.input_ids)].cpu().numpy()))
    if was_training:
        model.train()
    token_p, token_r, token_f1 = _prf(tp, pred, gold)
    word_scores = _word_scores(samples, token_probs)
    w_tp = w_pred = w_gold = 0
    for index, probs in word_scores.items():
        truth = np.asarray(samples[index].labels, dtype=bool)
        keep = probs > 0.5
        w_tp += int((keep & truth).sum())
        w_pred += int(keep.sum())
        w_gold += int(truth.sum())
    word_p, word_r, word_f1 = _prf(w_tp, w_pred, w_gold)
    words_total = sum(len(samples[i].labels) for i in word_scores) or 1
    return Metrics(
        loss=loss_sum / max(1, loss_tokens),
        token_precision=token_p,
        token_recall=token_r,
        token_f1=token_f1,
        word_precision=word_p,
        word_recall=word_r,
        word_f1=word_f1,
        keep_rate=w_pred / words_total,
        gold_keep_rate=w_gold / words_total,
    )


def _word_scores(
    samples: Sequence[LabelledSample], token_probs: dict[int, list[tuple[Encoded, Any]]]
) -> dict[int, Any]:
    """Word keep-probabilities the way inference aggregates them (mean over sub-tokens)."""
    out: dict[int, Any] = {}
    for index, windows in token_probs.items():
        windows = sorted(windows, key=lambda pair: pair[0].first)
        offsets = np.concatenate([w.offsets[~w.special] for w, _ in windows])
        values = np.concatenate([p[~w.special] for w, p in windows])
        words = sample_words(samples[index])
        scores, scored = aggregate(words, offsets[:, 0], offsets[:, 1], values, Aggregation.MEAN)
        out[index] = np.where(scored, scores, 0.0)
    return out


# --- training ------------------------------------------------------------------------------

EpochCallback = Callable[[EpochRecord], None]
StepCallback = Callable[[int, int, float], None]  # step within epoch, steps in epoch, running loss


def train_classifier(
    samples: Sequence[LabelledSample],
    base_model: str,
    output_dir: Path,
    options: ClassifierTrainingOptions = ClassifierTrainingOptions(),
    resume: bool = False,
    on_epoch: EpochCallback | None = None,
    on_step: StepCallback | None = None,
) -> TrainingReport:
    """Train, keep the best epoch by validation word F1 in ``output_dir``, stop early.

    Each epoch's end writes the training state (weights, optimizer, scheduler, RNG) under
    ``output_dir/training-state``; ``resume=True`` continues from it after a crash or Ctrl-C.
    Batch order comes from ``(seed, epoch)``, so a resumed epoch sees the batches it would have.
    """
    import torch
    from transformers import get_linear_schedule_with_warmup

    if not samples:
        raise InputError("the dataset has no samples")
    if options.epochs < 1 or options.batch_size < 1:
        raise InputError("epochs and batch size must be at least 1")
    output_dir = Path(output_dir)
    state_dir = output_dir / STATE_DIR
    if output_dir.exists() and any(output_dir.iterdir()) and not resume:
        raise InputError(f"{output_dir} is not empty; pass --resume to continue a run, or choose another folder")
    saved = read_state(state_dir) if resume else None
    if resume and saved is None:
        raise InputError(f"nothing to resume in {output_dir}: no saved state in {STATE_DIR}/")
    torch.manual_seed(options.seed)
    train_index, val_index = split_train_val(len(samples), options.val_fraction, options.seed)
    lm = load_base_encoder(base_model, options.device)
    train_items = encode_samples(lm, [samples[i] for i in train_index], options.max_seq_len, options.label_scope)
    val_samples = [samples[i] for i in val_index]
    val_items = encode_samples(lm, val_samples, options.max_seq_len, options.label_scope)
    if not any(label != IGNORE_INDEX for item in train_items for label in item.labels):
        raise InputError("no training token carries a label: are the samples empty?")

    model = lm.model
    decay = [p for n, p in model.named_parameters() if not n.endswith("bias") and "LayerNorm" not in n]
    no_decay = [p for n, p in model.named_parameters() if n.endswith("bias") or "LayerNorm" in n]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": options.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=options.learning_rate,
    )
    steps_per_epoch = math.ceil(len(train_items) / options.batch_size)
    total_steps = steps_per_epoch * options.epochs
    scheduler = get_linear_schedule_with_warmup(  # type: ignore[no-untyped-call]
        optimizer, int(total_steps * options.warmup_ratio), total_steps
    )
    amp_dtype = autocast_dtype(lm.device, options.mixed_precision)
    scaler = grad_scaler(amp_dtype)

    report = TrainingReport(str(output_dir), base_model, len(train_index), len(val_index), len(train_items), 0, False)
    best_f1, stale, start_epoch = -1.0, 0, 1
    if saved is not None:
        load_checkpoint(state_dir, model, optimizer, scheduler, scaler)
        best_f1, stale, start_epoch = saved["best_f1"], saved["stale"], saved["epoch"] + 1
        report = _report_from_json(saved["report"])
    pad_id = int(lm.tokenizer.pad_token_id or 0)
    for epoch in range(start_epoch, options.epochs + 1):
        if stale >= options.patience and val_items:
            report.stopped_early = True
            break
        started = time.perf_counter()
        model.train()
        lengths = [len(item.input_ids) for item in train_items]
        batches = [
            [train_items[i] for i in indices]
            for indices in length_grouped_batches(lengths, options.batch_size, (options.seed, epoch))
        ]
        running = 0.0
        for step, batch in enumerate(batches, start=1):
            tensors = to_device(collate(batch, pad_id), lm.device)
            with torch.autocast(lm.device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                loss = model(**tensors).loss
            backward(loss, scaler)
            optimizer_step(model, optimizer, scheduler, scaler, options.max_grad_norm)
            running += (loss.item() - running) / step
            if on_step is not None:
                on_step(step, len(batches), running)
        metrics = (
            evaluate(lm, val_items, val_samples, options.batch_size)
            if val_items
            else evaluate(lm, train_items, [samples[i] for i in train_index], options.batch_size)
        )
        record = EpochRecord(epoch, running, time.perf_counter() - started, metrics)
        report.history.append(record)
        if metrics.word_f1 > best_f1:
            best_f1, stale = metrics.word_f1, 0
            report.best_epoch = epoch
            _save_model(lm, output_dir)
        else:
            stale += 1
        state = {"epoch": epoch, "best_f1": best_f1, "stale": stale, "report": report.to_json()}
        save_checkpoint(state_dir, model, optimizer, scheduler, scaler, state)
        (output_dir / SUMMARY_FILE).write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
        if on_epoch is not None:
            on_epoch(record)
    (output_dir / SUMMARY_FILE).write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
    return report


def _save_model(lm: LoadedModel, folder: Path) -> None:
    """The inference checkpoint: safetensors weights, config naming the head, fast tokenizer."""
    folder.mkdir(parents=True, exist_ok=True)
    with quiet_transformers():
        lm.model.save_pretrained(folder, safe_serialization=True)
    lm.tokenizer.save_pretrained(folder)


def _report_from_json(data: dict[str, Any]) -> TrainingReport:
    history = [
        EpochRecord(r["epoch"], r["train_loss"], r["seconds"], Metrics(**r["metrics"])) for r in data.pop("history")
    ]
    return TrainingReport(**data, history=history)
