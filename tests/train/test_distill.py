"""The distillation pipeline end to end against a real local OpenAI-compatible server:
parallel requests, failures that do not stop the run, resuming, labelling, the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lingua_core.cli import main
from lingua_core.errors import InputError
from lingua_core.train.dataset import read_samples
from lingua_core.train.distill import LabelOptions, SourceText, distill, distill_jobs, label, read_sources
from lingua_core.train.instructions import DEFAULT_INSTRUCTION, Instruction
from lingua_core.train.responses import collect_responses, read_instruction_items, response_jobs
from lingua_core.train.runner import Job, RunOptions, read_done_ids
from lingua_core.train.teachers import EndpointTeacher, LocalTeacher, RetryPolicy, TeacherError
from tests.train.fake_openai import FakeOpenAI, compress, fake_openai, kept_words

__all__ = ["fake_openai"]  # the fixture, imported for pytest

PLAIN = Instruction("plain", "Delete words.", "{text_to_compress}")
TEXTS = [
    "Natalia sold clips to forty eight of her friends in April. Then she sold half as many clips in May. "
    "How many clips did Natalia sell altogether in April and May?",
    "Weng earns twelve dollars an hour for babysitting. Yesterday, she just did fifty minutes of babysitting. "
    "How much did she earn?",
    "Betty is saving money for a new wallet which costs one hundred dollars. Betty has only half of the money "
    "she needs. Her parents decided to give her fifteen dollars for that purpose.",
]


def endpoint(fake: FakeOpenAI, attempts: int = 2) -> EndpointTeacher:
    return EndpointTeacher(fake.url, "fake-model", retry=RetryPolicy(attempts=attempts), sleep=lambda s: None)


def jobs_for(texts: list[str], chunk_tokens: int = 16, instruction: Instruction = PLAIN) -> list[Job]:
    sources = [SourceText(f"doc{i}.txt", text) for i, text in enumerate(texts)]
    return distill_jobs(sources, instruction, chunk_tokens)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_records_hold_the_answer_and_its_provenance(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    jobs = jobs_for(TEXTS)
    assert len(jobs) > len(TEXTS)  # 16-token chunks: several per text
    summary = distill(jobs, endpoint(fake_openai), tmp_path / "raw.jsonl", options=RunOptions(workers=3))
    assert (summary.total, summary.done, summary.skipped, summary.failed) == (len(jobs), len(jobs), 0, 0)
    records = lines(tmp_path / "raw.jsonl")
    assert sorted(r["id"] for r in records) == sorted(j.id for j in jobs)
    for record in records:
        assert set(record) >= {"id", "source", "chunk", "instruction_id", "teacher", "original", "compressed"}
        assert record["compressed"] == compress(record["original"])
        assert record["instruction_id"] == "plain" and record["attempts"] == 1 and record["seconds"] >= 0
        assert record["teacher"] == f"fake-model @ {fake_openai.url}"
    # The chunks of each source, in order, give the source back.
    for i, text in enumerate(TEXTS):
        mine = sorted((r for r in records if r["source"] == f"doc{i}.txt"), key=lambda r: r["chunk"])
        assert "".join(r["original"] for r in mine) == text


def test_endpoint_requests_run_in_parallel(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    fake_openai.delay = 0.25
    jobs = jobs_for(TEXTS)[:6]
    summary = distill(jobs, endpoint(fake_openai), tmp_path / "raw.jsonl", options=RunOptions(workers=3))
    assert summary.done == 6
    # Requests overlapped (one at a time would peak at 1), never beyond the three workers.
    assert 2 <= fake_openai.peak <= 3


def test_a_failing_chunk_is_recorded_and_the_run_goes_on(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    texts = [*TEXTS, "This POISON text is refused by the endpoint."]
    jobs = jobs_for(texts, chunk_tokens=512)
    raw = tmp_path / "raw.jsonl"
    summary = distill(jobs, endpoint(fake_openai), raw, options=RunOptions(workers=2))
    assert (summary.done, summary.failed) == (len(TEXTS), 1)
    errors = lines(tmp_path / "raw.errors.jsonl")
    assert len(errors) == 1 and "POISON" in errors[0]["original"] and "rejected" in errors[0]["error"]
    assert errors[0]["id"] not in read_done_ids(raw)
    # A rerun tries only the failed chunk again.
    again = distill(jobs, endpoint(fake_openai), raw)
    assert (again.skipped, again.done, again.failed) == (len(TEXTS), 0, 1)


def test_interrupted_run_resumes_without_duplicates(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    jobs = jobs_for(TEXTS)
    raw = tmp_path / "raw.jsonl"
    fake_openai.fail_after = 4  # the endpoint dies for good after four answers
    with pytest.raises(TeacherError, match="in a row failed") as caught:
        distill(jobs, endpoint(fake_openai), raw, options=RunOptions(workers=2, max_consecutive_failures=3))
    assert caught.value.fatal
    first = read_done_ids(raw)
    assert len(first) == 4
    fake_openai.reset()
    summary = distill(jobs, endpoint(fake_openai), raw, options=RunOptions(workers=2))
    assert (summary.skipped, summary.done, summary.failed) == (4, len(jobs) - 4, 0)
    ids = [r["id"] for r in lines(raw)]
    assert len(ids) == len(set(ids)) and set(ids) == {j.id for j in jobs}
    assert not (tmp_path / "raw.errors.jsonl").exists()  # nothing is missing any more
    # Finished chunks were not sent again. (A request the aborted run had in flight may
    # still land after the reset: its answer is dropped, and its chunk is one not done.)
    done_texts = {r["original"] for r in lines(raw) if r["id"] in first}
    sent_texts = {r.body["messages"][-1]["content"] for r in fake_openai.requests}
    assert not done_texts & sent_texts and len(sent_texts) == len(jobs) - 4


def test_fatal_error_stops_at_once(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    fake_openai.script.extend(["ok", "401"])
    with pytest.raises(TeacherError, match="401") as caught:
        distill(jobs_for(TEXTS), endpoint(fake_openai), tmp_path / "raw.jsonl", options=RunOptions(workers=1))
    assert caught.value.fatal and "rerun resumes" in str(caught.value)
    assert len(fake_openai.requests) == 2 and len(read_done_ids(tmp_path / "raw.jsonl")) == 1


def test_a_torn_last_line_is_repaired(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    jobs = jobs_for(TEXTS, chunk_tokens=512)
    raw = tmp_path / "raw.jsonl"
    distill(jobs[:2], endpoint(fake_openai), raw)
    with raw.open("a", encoding="utf-8") as out:  # a crash in the middle of the third line
        out.write(json.dumps({"id": jobs[2].id, "original": "half"})[:20])
    summary = distill(jobs, endpoint(fake_openai), raw)
    assert (summary.skipped, summary.done) == (2, 1)
    ids = [r["id"] for r in lines(raw)]  # every line parses
    assert sorted(ids) == sorted(j.id for j in jobs)


def test_limit_sends_only_a_trial(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    jobs = jobs_for(TEXTS)
    summary = distill(jobs, endpoint(fake_openai), tmp_path / "raw.jsonl", options=RunOptions(limit=2))
    assert (summary.done, summary.remaining) == (2, len(jobs) - 2)


def test_labels_match_the_words_the_teacher_kept(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    raw, dataset = tmp_path / "raw.jsonl", tmp_path / "labelled.jsonl"
    jobs = jobs_for(TEXTS, chunk_tokens=512, instruction=DEFAULT_INSTRUCTION)
    distill(jobs, endpoint(fake_openai), raw)
    report = label([raw], dataset)
    assert report["records"] == report["aligned"] == report["written"] == len(TEXTS)
    assert report["mean_variation_rate"] == 0.0 and report["mean_alignment_gap"] == 0.0
    assert 0.3 < report["mean_keep_rate"] < 0.8
    samples = list(read_samples(dataset))
    by_text = {r["original"]: r for r in lines(raw)}
    for sample in samples:
        assert [w for w, keep in zip(sample.words, sample.labels) if keep] == kept_words(sample.text)
        record = by_text[sample.text]
        assert sample.provenance["id"] == record["id"]
        assert sample.provenance["source"] == record["source"] and sample.provenance["chunk"] == 0
        assert sample.provenance["teacher"] == record["teacher"]
        assert sample.provenance["instruction_id"] == DEFAULT_INSTRUCTION.id


def test_label_skips_truncated_empty_and_duplicate_records(tmp_path: Path) -> None:
    raw = tmp_path / "raw.jsonl"
    base = {"source": "s", "chunk": 0, "teacher": "t", "instruction_id": "i"}
    records = [
        {**base, "id": "a", "original": "The cat sat on the mat today.", "compressed": "cat sat mat today."},
        {**base, "id": "a", "original": "The cat sat on the mat today.", "compressed": "cat sat mat today."},
        {**base, "id": "b", "original": "A long text cut short.", "compressed": "long", "finish_reason": "length"},
        {**base, "id": "c", "original": "Nothing came back.", "compressed": "  "},
        {**base, "id": "d", "original": "The dog barked at night.", "compressed": "dog barked night."},
    ]
    raw.write_text("".join(json.dumps(r) + "\n" for r in records) + '{"id": "torn', encoding="utf-8")
    report = label([raw], tmp_path / "out.jsonl")
    assert (report["records"], report["duplicates"], report["skipped_truncated"], report["skipped_empty"]) == (
        5,
        1,
        1,
        1,
    )
    assert report["written"] == 2
    with_truncated = label([raw], tmp_path / "out2.jsonl", LabelOptions(keep_truncated=True))
    assert with_truncated["written"] == 3
    (tmp_path / "bad.jsonl").write_text('{"id": "x", "text": "no compression"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.jsonl:1"):
        label([tmp_path / "bad.jsonl"], tmp_path / "out3.jsonl")


def test_quality_filter_drops_an_invented_compression(tmp_path: Path) -> None:
    raw = tmp_path / "raw.jsonl"
    good = [
        {"id": str(i), "original": f"Sample {i} keeps some of these words here.", "compressed": f"Sample {i} words."}
        for i in range(19)
    ]
    bad = {"id": "bad", "original": "Revenue grew in the third quarter.", "compressed": "Sales soared massively."}
    raw.write_text("".join(json.dumps(r) + "\n" for r in [*good, bad]), encoding="utf-8")
    report = label([raw], tmp_path / "out.jsonl")
    assert (report["written"], report["dropped_variation"], report["filtered_share"]) == (19, 1, 0.05)
    assert "bad" not in {s.provenance["id"] for s in read_samples(tmp_path / "out.jsonl")}


def test_read_sources(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# Title\n\nSome text.", encoding="utf-8")
    (tmp_path / "b.jsonl").write_text(
        '{"body": "first", "key": 7}\n{"body": "  "}\n{"body": "third"}\n', encoding="utf-8"
    )
    sources = read_sources([tmp_path / "a.md", tmp_path / "b.jsonl"], text_field="body", id_field="key")
    assert [(s.source.rsplit("/", 1)[-1], s.text) for s in sources] == [
        ("a.md", "# Title\n\nSome text."),
        ("b.jsonl#7", "first"),
        ("b.jsonl:3", "third"),
    ]
    with pytest.raises(InputError, match=r"b\.jsonl:1.*--text-field"):
        read_sources([tmp_path / "b.jsonl"])
    with pytest.raises(InputError, match="No such"):
        read_sources([tmp_path / "missing.txt"])


def test_responses_are_collected_and_resumed(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(
        '{"id": "q1", "instruction": "Explain photosynthesis briefly."}\n'
        '{"instruction": "List three prime numbers please."}\n',
        encoding="utf-8",
    )
    (tmp_path / "b.txt").write_text("Write a haiku about autumn leaves.\n\nList three prime numbers please.\n")
    items = read_instruction_items([tmp_path / "a.jsonl", tmp_path / "b.txt"])
    assert len(items) == 4 and items[0].id == "q1"
    assert items[1].id == items[3].id  # the same instruction is asked once
    jobs = response_jobs(items, system_prompt="Be brief.")
    out = tmp_path / "pairs.jsonl"
    summary = collect_responses(jobs, endpoint(fake_openai), out, options=RunOptions(workers=2))
    assert (summary.total, summary.done) == (3, 3)
    records = {r["id"]: r for r in lines(out)}
    assert records["q1"]["response"] == compress("Explain photosynthesis briefly.")
    assert records["q1"]["system"] == "Be brief." and records["q1"]["teacher"].startswith("fake-model")
    assert fake_openai.requests[0].body["messages"][0] == {"role": "system", "content": "Be brief."}
    again = collect_responses(jobs, endpoint(fake_openai), out)
    assert (again.skipped, again.done) == (3, 0)


def test_cli_distill_then_label(
    fake_openai: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    source = tmp_path / "source.txt"
    source.write_text(" ".join(TEXTS), encoding="utf-8")
    raw, dataset = tmp_path / "raw.jsonl", tmp_path / "labelled.jsonl"
    teacher_flags = ["--teacher-url", fake_openai.url, "--teacher-model", "fake-model"]
    main(["distill", str(source), "-o", str(raw), *teacher_flags, "--chunk-tokens", "32", "--workers", "2", "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert summary["done"] == summary["total"] > 1 and summary["failed"] == 0
    assert summary["instruction_id"] == DEFAULT_INSTRUCTION.id and summary["sources"] == 1
    main(["label", str(raw), "-o", str(dataset), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert report["aligned"] == summary["done"]
    assert report["written"] == report["aligned"] - report["dropped_variation"] - report["dropped_gap"] > 0
    assert len(list(read_samples(dataset))) == report["written"]
    main(["distill", str(source), "-o", str(raw), *teacher_flags, "--chunk-tokens", "32"])  # human output, resumed
    out = capsys.readouterr().out
    assert f"skipped: {summary['total']}" in out and "done: 0" in out


def test_cli_user_mistakes(fake_openai: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "s.txt"
    source.write_text("Some text.", encoding="utf-8")
    with pytest.raises(SystemExit) as both:
        main(["distill", str(source), "-o", "x.jsonl", "--teacher-url", "http://h/v1", "--local-teacher", "embedded"])
    assert both.value.code == 2
    capsys.readouterr()
    with pytest.raises(SystemExit) as no_model:
        main(["distill", str(source), "-o", str(tmp_path / "r.jsonl"), "--teacher-url", fake_openai.url])
    assert no_model.value.code == 1
    assert capsys.readouterr().err.strip() == (
        "lingua: error: --teacher-url needs --teacher-model: the model name the endpoint serves (e.g. gpt-4o)"
    )
    with pytest.raises(SystemExit) as same:
        main(["label", str(source), "-o", str(source)])
    assert same.value.code == 1 and "also an input" in capsys.readouterr().err


def test_local_teacher_embedded_runs_the_pipeline(tmp_path: Path) -> None:
    """The real SmolLM2: its compressions are poor; the records must still be well formed."""
    jobs = jobs_for(["Natalia sold clips to 48 of her friends in April."], chunk_tokens=512)
    raw = tmp_path / "raw.jsonl"
    summary = distill(jobs, LocalTeacher("embedded"), raw, options=RunOptions(max_tokens=12, workers=4))
    assert (summary.done, summary.failed) == (1, 0)
    (record,) = lines(raw)
    assert record["teacher"] == "local:embedded" and record["original"] == jobs[0].fields["original"]
    assert isinstance(record["compressed"], str) and record["finish_reason"] in {"stop", "length"}
    assert 0 < record["completion_tokens"] <= 12 and record["prompt_tokens"] > 0
    report = label([raw], tmp_path / "labelled.jsonl", LabelOptions(keep_truncated=True))
    assert report["records"] == 1


def test_a_second_run_on_the_same_output_is_refused(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    import fcntl

    raw = tmp_path / "raw.jsonl"
    with raw.open("a") as held:  # another run holds the file
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(InputError, match="another run is writing"):
            distill(jobs_for(TEXTS), endpoint(fake_openai), raw)
    assert fake_openai.requests == []
    assert distill(jobs_for(TEXTS[:1]), endpoint(fake_openai), raw).done > 0  # released: runs


def test_cli_respond(fake_openai: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    questions = tmp_path / "questions.txt"
    questions.write_text("What is the boiling point of water?\nName three rivers in Europe.\n", encoding="utf-8")
    out = tmp_path / "pairs.jsonl"
    flags = ["--teacher-url", fake_openai.url, "--teacher-model", "target", "--json"]
    main(["respond", str(questions), "-o", str(out), *flags])
    summary = json.loads(capsys.readouterr().out)
    assert (summary["total"], summary["done"], summary["failed"]) == (2, 2, 0)
    pairs = lines(out)
    assert {p["instruction"] for p in pairs} == set(questions.read_text(encoding="utf-8").splitlines())
    assert all(p["response"] == compress(p["instruction"]) and p["teacher"].startswith("target @") for p in pairs)


def test_repair_tail(tmp_path: Path) -> None:
    from lingua_core.train.runner import repair_tail

    path = tmp_path / "out.jsonl"
    path.write_text('{"id": "a"}\n{"id": "b"}\n{"id": "c', encoding="utf-8")
    assert repair_tail(path) and path.read_text(encoding="utf-8") == '{"id": "a"}\n{"id": "b"}\n'
    assert not repair_tail(path)
    path.write_text('{"id": "a"}\n{"id": "b"}', encoding="utf-8")  # whole, only the newline missing
    assert repair_tail(path) and read_done_ids(path) == {"a", "b"}
    path.write_text('{"id": "torn', encoding="utf-8")
    assert repair_tail(path) and path.read_text(encoding="utf-8") == ""
