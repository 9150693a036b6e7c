"""`lingua batch --ray` and `compress_dataset` on a real local Ray give the local path's rows,
through a killed actor and a killed job."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lingua_core.batch.output import POSITION, ShardWriter, parts_dir
from lingua_core.batch.records import Fields, read_records
from tests.core.test_cli import one_line_error, run

ray = pytest.importorskip("ray")
pq = pytest.importorskip("pyarrow.parquet")

LINGUA = [sys.executable, "-m", "lingua_core.cli"]
OPTIONS = ["--text-field", "body", "--id-field", "doc", "--rate", "0.5", "--batch-size", "4", "--no-progress"]
SUBJECTS = ["the billing outage", "the new hire's first week", "invoice INV-2231", "release 4.2.1"]
RECORDS = 40
# A JSONL line per record; the bad ones at these line numbers (1-based).
EMPTY, WRONG_FIELD, NOT_UTF8, TOO_BIG, REPEATED = 4, 8, 12, 16, 20
# The local run, in-process through the CLI's own entry, says whether it imported Ray.
LOCAL_RUN = "import sys\nfrom lingua_core.cli.main import main\nmain(sys.argv[1:])\nprint('ray' in sys.modules)"
REGISTRY = "lingua-test-actors"


def _corpus(path: Path) -> Path:
    lines = []
    for i in range(RECORDS):
        body = (
            f"Write a short note to the team about {SUBJECTS[i % 4]}: name the owner, the date and the next step; "
            f"ticket {1000 + i}."
        )
        lines.append(json.dumps({"doc": f"d{i:02d}", "body": body}).encode())
    lines[EMPTY - 1] = json.dumps({"doc": f"d{EMPTY - 1:02d}", "body": ""}).encode()
    lines[WRONG_FIELD - 1] = json.dumps({"doc": f"d{WRONG_FIELD - 1:02d}", "text": "the wrong field"}).encode()
    lines[NOT_UTF8 - 1] = b'{"doc": "d11", "body": "caf\xe9 au lait"}'
    lines[TOO_BIG - 1] = json.dumps({"doc": f"d{TOO_BIG - 1:02d}", "body": "word " * 1_000_000}).encode()
    lines[REPEATED - 1] = json.dumps({"doc": "d05", "body": "A second record with the id d05."}).encode()
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _corpus(tmp_path_factory.mktemp("corpus") / "in.jsonl")


@pytest.fixture(scope="module")
def local(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The local path's output and summary: what every Ray run must give."""
    output = tmp_path_factory.mktemp("local") / "out.jsonl"
    done = subprocess.run(
        [sys.executable, "-c", LOCAL_RUN, "batch", str(corpus), "-o", str(output), *OPTIONS, "--json"],
        capture_output=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    summary_line, imported_ray = done.stdout.decode().splitlines()
    return {
        "rows": _rows(output),
        "bytes": output.read_bytes(),
        "summary": json.loads(summary_line),
        "ray": imported_ray,
    }


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    """One CPU more than the two actors take: Ray Data cuts the input into batches in a task
    of its own (``on_ray.compress_stage``)."""
    import ray.cloudpickle

    # The model loader below runs in the actors: send it by value, not as an import of this file.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=3, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_the_local_path_gives_every_record_a_row_and_never_imports_ray(local: dict[str, Any]) -> None:
    rows = local["rows"]
    assert local["ray"] == "False"
    assert len(rows) == RECORDS and local["summary"]["records"] == RECORDS
    errors = {row["id"]: row["error"] for row in rows if row["error"]}
    assert errors == {
        "d03": "empty text",
        "d07": "no 'body' field",
        "12": "line 12 is not valid UTF-8 (byte 27)",
        "d15": "text is 5.0 MB; at most 4 MB per record",
        "d05#2": "duplicate id 'd05'",
    }
    assert all(0 < row["compressed_tokens"] < row["origin_tokens"] for row in rows if not row["error"])


def test_the_cli_on_ray_writes_the_local_output(corpus: Path, local: dict[str, Any], tmp_path: Path) -> None:
    output = tmp_path / "out.parquet"
    done = run("batch", str(corpus), "-o", str(output), *OPTIONS, "--ray", "--actors", "2", "--json")
    assert done.returncode == 0, done.stderr.decode()
    assert pq.read_table(output).to_pylist() == local["rows"]  # record for record, in input order
    summary, expected = json.loads(done.stdout), local["summary"]
    for key in ("records", "errors", "error_ids", "compressed_now", "origin_tokens", "compressed_tokens", "model"):
        assert summary[key] == expected[key], key
    assert summary["saved_usd"] == pytest.approx(expected["saved_usd"]) and summary["saved_usd"] > 0
    assert summary["records_per_second"] > 0 and not parts_dir(output).exists()


def _load_and_register() -> Any:
    """Each actor's model, loaded as the default loader does; the actor's handle is left in
    the registry first, for the test to kill it."""
    import ray

    from lingua_core import Compressor

    registry = ray.get_actor(REGISTRY)
    ray.get(registry.add.remote(ray.get_runtime_context().current_actor))
    return Compressor.load("embedded")


@ray.remote(num_cpus=0)
class Registry:
    def __init__(self) -> None:
        self.actors: list[Any] = []

    def add(self, actor: Any) -> None:
        self.actors.append(actor)

    def all(self) -> list[Any]:
        return self.actors


def test_compress_dataset_gives_the_local_rows_through_a_killed_actor(
    cluster: None, corpus: Path, local: dict[str, Any]
) -> None:
    from lingua_core.batch import compress_dataset

    rows = []
    for number, line in enumerate(corpus.read_bytes().splitlines(), start=1):
        if number not in (NOT_UTF8, REPEATED):  # no row of a dataset; ids are the CLI's to check
            rows.append(json.loads(line))
    registry = Registry.options(name=REGISTRY).remote()
    dataset = ray.data.from_items(rows)
    compressed = compress_dataset(
        dataset, text_field="body", id_field="doc", rate=0.5, actors=2, batch_size=4, load=_load_and_register
    )
    received: list[dict[str, Any]] = []
    killed = None
    for row in compressed.iter_rows():
        received.append(row)
        if killed is None:  # the first batch is out, the other eight are queued on both actors
            killed = ray.get(registry.all.remote())[0]
            ray.kill(killed, no_restart=False)
    assert Counter(row["id"] for row in received) == Counter(row["doc"] for row in rows)  # each once
    by_id = {row["id"]: row for row in local["rows"]}
    assert sorted(received, key=lambda row: row["id"]) == sorted(
        (by_id[row["doc"]] for row in rows), key=lambda row: row["id"]
    )
    registered = ray.get(registry.all.remote())
    assert len(registered) == 3 and registered.count(killed) == 2  # the killed actor came back, once
    ray.kill(registry)


def _readable_shard(parts: Path) -> bool:
    for shard in parts.glob("*.parquet"):
        try:
            pq.read_table(shard)
            return True
        except (OSError, ValueError):
            continue  # Ray is still writing it
    return False


def test_a_killed_ray_job_reruns_to_the_uninterrupted_output(
    corpus: Path, local: dict[str, Any], tmp_path: Path
) -> None:
    output = tmp_path / "out.jsonl"
    command = [*LINGUA, "batch", str(corpus), "-o", str(output), *OPTIONS, "--ray", "--actors", "2"]
    # Its own session: the Ray it starts is killed with it, every process of it.
    process = subprocess.Popen(command, env=os.environ.copy(), start_new_session=True, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while not _readable_shard(parts_dir(output)) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # the Ray processes the killed job leaves behind
    assert _readable_shard(parts_dir(output)) and not output.exists(), "killed after a shard, before the end"

    resumed = run("batch", str(corpus), "-o", str(output), *OPTIONS, "--ray", "--actors", "2", "--json")
    assert resumed.returncode == 0, resumed.stderr.decode()
    assert json.loads(resumed.stdout)["compressed_now"] <= RECORDS - 4
    assert output.read_bytes() == local["bytes"]  # every record once, in input order, as uninterrupted
    assert not parts_dir(output).exists()


def test_ray_usage_errors_are_one_line(corpus: Path, tmp_path: Path) -> None:
    output = str(tmp_path / "out.jsonl")
    unreachable = run("batch", str(corpus), "-o", output, "--ray", "127.0.0.1:1")
    assert unreachable.returncode == 1
    assert one_line_error(unreachable) == "lingua: error: cannot reach a Ray cluster at 127.0.0.1:1: Connection refused"
    blocked = "import sys; sys.modules['ray'] = None; " + LOCAL_RUN.replace("\n", "; ")  # as if not installed
    without_ray = subprocess.run(
        [sys.executable, "-c", blocked, "batch", str(corpus), "-o", output, "--ray"],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert without_ray.returncode == 1 and "pip install 'lingua-prompt[ray]'" in one_line_error(without_ray)
    stray = run("batch", str(corpus), "-o", output, "--actors", "2")
    assert stray.returncode == 2 and "--actors and --cpus-per-actor are for --ray" in one_line_error(stray)
    uri = run("batch", "s3://bucket/corpus/", "-o", output)
    assert uri.returncode == 1 and "add --ray" in one_line_error(uri)


def _folders(root: Path) -> tuple[Path, Path]:
    import pyarrow as pa

    data, texts = root / "data", root / "texts"
    (data / "sub").mkdir(parents=True)
    (texts / "sub").mkdir(parents=True)
    (data / "b.jsonl").write_bytes(b'{"text": "bee"}\n\n{not json\n{"text": "last"}\n')
    pq.write_table(pa.Table.from_pylist([{"text": "ay"}, {"text": None}]), data / "sub" / "a.parquet")
    (data / "a.jsonl").write_bytes(b'{"text": "caf\xe9"}\n')
    (texts / "sub" / "system.prompt.md").write_text("You are a careful assistant.", encoding="utf-8")
    (texts / "a.txt").write_text("Answer briefly.", encoding="utf-8")
    (texts / "blob.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    (texts / "image.png").write_bytes(b"\x89PNG")
    return data, texts


def test_ray_reads_a_corpus_as_the_local_reader_does(cluster: None, tmp_path: Path) -> None:
    from lingua_core.batch.ray_input import POSITION_SPAN, read_corpus

    for folder in _folders(tmp_path):
        expected = [(r.id, r.text, r.error) for r in read_records(folder)]
        for source in (str(folder), folder.as_uri()):  # a local path, and a URI through pyarrow's filesystems
            rows = sorted(read_corpus(source, Fields()).take_all(), key=lambda row: row[POSITION])
            assert [(row["id"], row["text"], row["error"]) for row in rows] == expected, source
    data = tmp_path / "data"
    kept = read_corpus(str(data), Fields(), skip={0, POSITION_SPAN + 1}).take_all()
    assert sorted(row["id"] for row in kept) == ["b.jsonl:1", "b.jsonl:4", "sub/a.parquet:1", "sub/a.parquet:2"]


def _row(record_id: str, position: int, model: str = "m") -> dict[str, Any]:
    row = {"id": record_id, "compressed_text": record_id.upper(), "origin_tokens": 2, "compressed_tokens": 1}
    return {**row, "rate": 0.5, "method": "llmlingua", "model": model, "error": "", POSITION: position}


def test_ray_shards_merge_in_input_order_each_record_once(tmp_path: Path) -> None:
    import pyarrow as pa

    output = tmp_path / "out.jsonl"
    writer = ShardWriter(output, {"input": "x", "runner": "ray"})
    parts = parts_dir(output)
    later, earlier = [_row("c", 5), _row("a", 1)], [_row("b", 2), _row("a", 7)]
    pq.write_table(pa.Table.from_pylist(later), parts / "x_000001-0.parquet")  # a shard need not be sorted
    pq.write_table(pa.Table.from_pylist(earlier), parts / "x_000000-0.parquet")
    pq.write_table(pa.Table.from_pylist([_row("b", 2)]), parts / "y_000000-0.parquet")  # a retried task's
    whole = (parts / "x_000001-0.parquet").read_bytes()
    (parts / "z_000000-0.parquet").write_bytes(whole[: len(whole) // 2])  # a write cut short by a crash
    assert writer.done_positions() == {1, 2, 5, 7}  # the file cut short is no rows
    assert writer.finish(mark_duplicates=True) == 4
    rows = _rows(output)
    assert [row["id"] for row in rows] == ["a", "b", "c", "a#2"]
    assert rows[3]["error"] == "duplicate id 'a'" and rows[3]["compressed_text"] == "" and rows[3]["model"] == "m"
    assert rows[0] == {key: value for key, value in _row("a", 1).items() if key != POSITION}


def test_a_job_started_locally_is_not_resumed_on_ray(tmp_path: Path) -> None:
    from lingua_core.errors import InputError

    output = tmp_path / "out.jsonl"
    ShardWriter(output, {"input": "x"}).add(_row("a", 0), 0)
    with pytest.raises(InputError, match=r"was started without --ray .*finish it the same way"):
        ShardWriter(output, {"input": "x", "runner": "ray"})
    with pytest.raises(InputError, match="other inputs or options"):
        ShardWriter(output, {"input": "y", "runner": "ray"})
