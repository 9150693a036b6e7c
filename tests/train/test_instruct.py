"""Distribution alignment on a tiny random Llama: masking, learning, saving, resuming, refusing."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from lingua_core.errors import InputError
from lingua_core.train import instruct
from lingua_core.train.align_config import AlignConfig, lr_factor
from lingua_core.train.batching import IGNORE_INDEX, collate, length_grouped_batches
from lingua_core.train.instruct import align
from lingua_core.train.instruct_data import encode, encode_all, read_pairs, render
from tests.conftest import tiny_llama

PROMPT = "Alice has 3 apples and buys 4 more. Bob has 2 pears. How many apples does Alice have now? " * 3


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_llama(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def tokenizer(tiny: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny)


def write_pairs(path: Path, count: int = 10) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for i in range(count):
            record = {"id": str(i), "instruction": f"Add {i} and {i + 1}.", "response": f"{i} + {i + 1} = {2 * i + 1}."}
            out.write(json.dumps({**record, "teacher": "test"}) + "\n")
    return path


def config(pairs: Path, out: Path, model: Path, **overrides: Any) -> AlignConfig:
    base: dict[str, Any] = {"batch_size": 4, "lr": 1e-3, "val_fraction": 0.2, "progress": False, "save_every": 0}
    return AlignConfig(pairs=pairs, out=out, model=str(model), **{**base, **overrides})


def trained_text(tokenizer: Any, ids: tuple[int, ...], labels: tuple[int, ...]) -> str:
    return str(tokenizer.decode([i for i, label in zip(ids, labels) if label != IGNORE_INDEX]))


# --- data: formats, masks, batches ---------------------------------------------------------


def test_chat_mask_covers_only_the_response(tokenizer: Any) -> None:
    messages = ({"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "It is 4."})
    rendered = render(tokenizer, messages, chat=True)
    assert "<|im_start|>user" in rendered.text
    example = encode(tokenizer, rendered, max_length=512)
    assert trained_text(tokenizer, example.input_ids, example.labels) == "It is 4.<|im_end|>\n"


def test_plain_mask_covers_the_response_and_its_end(tokenizer: Any) -> None:
    messages = ({"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "It is 4."})
    rendered = render(tokenizer, messages, chat=False)
    assert rendered.text == "What is 2+2?\n\nIt is 4." + tokenizer.eos_token
    example = encode(tokenizer, rendered, max_length=512)
    assert trained_text(tokenizer, example.input_ids, example.labels) == "It is 4." + tokenizer.eos_token


def test_every_assistant_turn_of_a_chat_is_trained(tokenizer: Any) -> None:
    messages = (
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello there."},
        {"role": "user", "content": "Bye"},
        {"role": "assistant", "content": "Goodbye."},
    )
    example = encode(tokenizer, render(tokenizer, messages, chat=True), max_length=512)
    text = trained_text(tokenizer, example.input_ids, example.labels)
    assert text == "Hello there.<|im_end|>\nGoodbye.<|im_end|>\n"


def test_truncation_drops_pairs_with_no_response_left(tokenizer: Any) -> None:
    long = ({"role": "user", "content": "word " * 200}, {"role": "assistant", "content": "ok"})
    short = ({"role": "user", "content": "hi"}, {"role": "assistant", "content": "ok"})
    encoded = encode_all(tokenizer, [long, short], chat=True, max_length=32)
    assert encoded.dropped_too_long == 1 and len(encoded.examples) == 1
    assert all(len(e.input_ids) <= 32 for e in encoded.examples)
    batch = collate([*encoded.examples, encode(tokenizer, render(tokenizer, short, False), 32)], pad_id=2)
    assert batch["input_ids"].shape == batch["labels"].shape == batch["attention_mask"].shape


def test_record_shapes(tmp_path: Path) -> None:
    records = [
        {"instruction": "Sum", "input": "1 2", "output": "3"},
        {"prompt": "Say hi", "completion": "hi"},
        {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]},
        {"instruction": "Nothing came back", "response": "  "},
    ]
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + '{"instruction": "cut sh', encoding="utf-8")
    pairs = read_pairs(path)
    assert pairs.skipped_empty == 1  # the blank response; the truncated last line is ignored too
    assert [m["content"] for m in pairs.conversations[0]] == ["Sum\n\n1 2", "3"]
    assert [m["content"] for m in pairs.conversations[1]] == ["Say hi", "hi"]
    assert len(pairs.conversations) == 3


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "no pair with a response"),
        (
            '{"instruction": "a", "response": "b"}\nnot json\n{"instruction": "c", "response": "d"}\n',
            ":2: not valid JSON",
        ),
        ('{"question": "a", "answer": "b"}\n', ":1: no 'instruction'"),
        ("[1, 2]\n", ":1: each line must be a JSON object"),
        ('{"instruction": "a"}\n', "needs a 'response'"),
        ('{"messages": [{"role": "user", "content": "a"}]}\n', "no assistant turn"),
        ('{"instruction": "a", "response": 3}\n', "'response' must be a string"),
    ],
)
def test_bad_pairs_are_input_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "pairs.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        read_pairs(path)


def test_batches_are_seeded_and_cover_every_example() -> None:
    lengths = [5, 50, 7, 30, 2, 9, 41, 3, 8]
    first = length_grouped_batches(lengths, 2, (0, 1))
    assert first == length_grouped_batches(lengths, 2, (0, 1))
    assert sorted(i for batch in first for i in batch) == list(range(len(lengths)))
    assert first != length_grouped_batches(lengths, 2, (0, 2))


def test_schedule_warms_up_then_decays() -> None:
    factors = [lr_factor(step, 20, 4, "cosine") for step in range(20)]
    assert factors[:4] == [0.25, 0.5, 0.75, 1.0]
    assert all(a >= b for a, b in itertools.pairwise(factors[4:])) and factors[-1] < 0.05
    assert lr_factor(19, 20, 0, "linear") == pytest.approx(1 / 20)


# --- training ---------------------------------------------------------------------------------


def batch_loss(model_dir: Path, examples_from: Path) -> float:
    """Mean response-token loss of a model on every pair of a file, as one fixed batch."""
    from lingua_core.models import load_model
    from lingua_core.train.instruct_data import has_chat_template

    # the training tools' encoding (chat template, truncation) is transformers'
    lm = load_model(str(model_dir), device="cpu", dtype="fp32", backend="transformers")
    chat = has_chat_template(lm.tokenizer)
    encoded = encode_all(lm.tokenizer, read_pairs(examples_from).conversations, chat, 128)
    batch = collate(encoded.examples, lm.tokenizer.pad_token_id)
    loss = instruct._evaluate(lm.model, [batch], instruct._precision(lm.device))
    return loss


def test_cli_training_lowers_loss_and_saves_a_compressor(
    tmp_path: Path, tiny: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lingua_core import Compressor
    from lingua_core.cli import main
    from lingua_core.models import ModelKind, load_model

    pairs = write_pairs(tmp_path / "pairs.jsonl", count=8)
    out = tmp_path / "aligned"
    argv = ["align", str(pairs), "--model", str(tiny), "--out", str(out), "--max-steps", "6", "--batch-size", "8"]
    main([*argv, "--lr", "2e-3", "--val-fraction", "0", "--schedule", "constant", "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert summary["steps"] == 6 and summary["template"] == "chat" and summary["train_examples"] == 8
    assert summary["train_loss_last"] < summary["train_loss_first"]
    assert batch_loss(out, pairs) < batch_loss(tiny, pairs) - 0.5

    detail = json.loads((out / instruct.SUMMARY_FILE).read_text(encoding="utf-8"))
    assert len(detail["train_losses"]) == 6 and detail["data_sha256"] == summary["data_sha256"]
    assert not (out / "checkpoint").exists() and not (out / "best").exists()
    assert load_model(str(out), device="cpu").kind is ModelKind.CAUSAL_LM
    result = Compressor.load(str(out), device="cpu").compress(PROMPT, rate=0.5, method="llmlingua")
    assert result.method == "llmlingua"
    assert 0 < result.compressed_tokens < result.origin_tokens


def test_interrupted_run_resumes_where_it_stopped(tmp_path: Path, tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pairs = write_pairs(tmp_path / "pairs.jsonl")
    straight = align(config(pairs, tmp_path / "straight", tiny, max_steps=6, eval_every=3))

    out = tmp_path / "resumed"
    calls = {"n": 0}
    real_collate = instruct.collate

    def interrupt_at_fourth_step(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 5:  # the validation batch, steps 1 to 3, then step 4
            raise KeyboardInterrupt
        return real_collate(*args, **kwargs)

    monkeypatch.setattr(instruct, "collate", interrupt_at_fourth_step)
    with pytest.raises(KeyboardInterrupt):
        align(config(pairs, out, tiny, max_steps=6, eval_every=3, save_every=2))
    monkeypatch.setattr(instruct, "collate", real_collate)
    state = json.loads((out / "checkpoint" / "state.json").read_text(encoding="utf-8"))
    assert state["step"] == 3  # the checkpoint of step 2, then the one the interruption wrote

    with pytest.raises(InputError, match="add --resume"):
        align(config(pairs, out, tiny, max_steps=6, eval_every=3))
    with pytest.raises(InputError, match="--lr"):
        align(config(pairs, out, tiny, max_steps=6, eval_every=3, lr=5e-4, resume=True))

    resumed = align(config(pairs, out, tiny, max_steps=6, eval_every=3, resume=True))
    assert resumed["resumed_from_step"] == 3 and resumed["steps"] == 6
    detail = json.loads((out / instruct.SUMMARY_FILE).read_text(encoding="utf-8"))
    straight_detail = json.loads((tmp_path / "straight" / instruct.SUMMARY_FILE).read_text(encoding="utf-8"))
    assert detail["train_losses"] == pytest.approx(straight_detail["train_losses"], rel=1e-4)
    assert resumed["val_loss_last"] == pytest.approx(straight["val_loss_last"], rel=1e-4)


def test_early_stopping_keeps_the_best_weights(tmp_path: Path, tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pairs = write_pairs(tmp_path / "pairs.jsonl")
    scripted = iter([3.0, 2.0, 2.5, 2.6, 2.7])
    snapshots: list[Any] = []

    def fake_evaluate(model: Any, batches: Any, precision: Any) -> float:
        snapshots.append(model.get_output_embeddings().weight.detach().clone())
        return next(scripted)

    monkeypatch.setattr(instruct, "_evaluate", fake_evaluate)
    out = tmp_path / "aligned"
    summary = align(config(pairs, out, tiny, max_steps=20, eval_every=2, patience=2))
    assert summary["early_stopped"] and summary["steps"] == 6
    assert summary["best_step"] == 2 and summary["restored_best"] and summary["val_loss_best"] == 2.0

    from transformers import AutoModelForCausalLM

    saved = AutoModelForCausalLM.from_pretrained(out).get_output_embeddings().weight
    assert saved.equal(snapshots[1]) and not saved.equal(snapshots[-1])


def test_cli_refuses_bad_input(tmp_path: Path, tiny: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from lingua_core.cli import main

    def error(*argv: str) -> str:
        with pytest.raises(SystemExit) as exit_info:
            main(["align", *argv, "--model", str(tiny)])
        assert exit_info.value.code == 1
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1
        return lines[0]

    assert "No such pairs file" in error(str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "o1"))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "a", "response": "b"}\n{oops\n', encoding="utf-8")
    assert "bad.jsonl:2: not valid JSON" in error(str(bad), "--out", str(tmp_path / "o2"))
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine", encoding="utf-8")
    assert "not empty" in error(str(write_pairs(tmp_path / "p.jsonl")), "--out", str(busy))
    assert (busy / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_truncated_teacher_replies_are_not_trained(tmp_path: Path) -> None:
    from lingua_core.train.instruct_data import read_pairs

    path = tmp_path / "pairs.jsonl"
    rows = [
        {"instruction": "Add 2 and 3.", "response": "2 plus 3 is 5.", "finish_reason": "stop"},
        {"instruction": "Explain tides.", "response": "Tides are caused by the", "finish_reason": "length"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    pairs = read_pairs(path)
    assert len(pairs.conversations) == 1 and pairs.skipped_empty == 1
    assert "5." in pairs.conversations[0][-1]["content"]
