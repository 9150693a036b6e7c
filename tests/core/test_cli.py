"""The `lingua` command as scripts use it: exit codes, messages and JSON.

Errors found before a model loads, counting and one compression run as real processes;
the other compressions run the command in the test process on the session's model
(``inline_cli``), which spares each a process start and a model load.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lingua_core.budget import BUDGET_TOLERANCE
from lingua_core.tokens import count_tokens
from tests.core.conftest import CliRun, InlineCli

LINGUA = [sys.executable, "-m", "lingua_core.cli"]


def run(
    *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*LINGUA, *args], input=stdin, capture_output=True, timeout=300, env={**os.environ, **(env or {})}, check=False
    )


def one_line_error(proc: subprocess.CompletedProcess[bytes] | CliRun) -> str:
    err = proc.stderr.decode()
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines, "an error must say something"
    return lines[-1]


def test_count_matches_tiktoken(tmp_path: Path) -> None:
    text = "Résumé: 東京で会いましょう 🙂 {name}\n" * 40
    file = tmp_path / "p.txt"
    file.write_text(text, encoding="utf-8")
    for encoding in ("o200k_base", "cl100k_base"):
        proc = run("count", str(file), "--encoding", encoding, "--json")
        assert proc.returncode == 0, proc.stderr
        data = json.loads(proc.stdout)
        assert data["tokens"] == count_tokens(text, encoding)
        assert data["encoding"] == encoding
        assert data["cost_usd"] > 0


def test_count_reads_stdin() -> None:
    proc = run("count", "-", "--json", stdin=b"hello world")
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["tokens"] == count_tokens("hello world")


@pytest.mark.parametrize("rate", ["0", "1.5", "-1", "abc", "nan", "inf"])
def test_bad_rate_is_a_usage_error_in_one_line(rate: str) -> None:
    proc = run("compress", "-", "--rate", rate, stdin=b"some text")
    assert proc.returncode == 2
    assert "rate" in one_line_error(proc)
    # One line, not the nine of compress's usage above it.
    assert [line for line in proc.stderr.decode().splitlines() if line.strip()] == [one_line_error(proc)]


def test_closed_stdin_is_one_clear_line() -> None:
    proc = subprocess.run(
        [*LINGUA, "compress", "-"], capture_output=True, timeout=300, check=False, preexec_fn=lambda: os.close(0)
    )
    assert proc.returncode == 1
    assert "stdin is closed" in one_line_error(proc)


_PEAK_MEMORY = """
import resource, sys
from lingua_core.cli.main import main
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
print(code, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


@pytest.mark.parametrize("via_stdin", [False, True])
def test_a_huge_input_is_refused_without_being_read(tmp_path: Path, via_stdin: bool) -> None:
    # 70 MB (a sparse file: no disk used): refused by its size, never held in memory whole.
    huge = tmp_path / "huge.txt"
    with huge.open("wb") as handle:
        handle.truncate(70 * 1024 * 1024)
    with huge.open("rb") as source:
        proc = subprocess.run(
            [sys.executable, "-c", _PEAK_MEMORY, "compress", "-" if via_stdin else str(huge), "--rate", "0.5"],
            stdin=source if via_stdin else subprocess.DEVNULL,
            capture_output=True,
            timeout=300,
            check=False,
        )
    code, grown_kb = proc.stdout.decode().split()
    assert code == "1"
    assert "refused" in one_line_error(proc)
    assert int(grown_kb) < 20 * 1024, f"peak memory grew by {int(grown_kb) // 1024} MB reading a refused input"


def test_rate_and_target_exclusive() -> None:
    proc = run("compress", "-", "--rate", "0.5", "--target-tokens", "10", stdin=b"text")
    assert proc.returncode == 2


@pytest.mark.parametrize("content", [b"", b"   \n\t  \n"])
def test_empty_input(content: bytes) -> None:
    proc = run("compress", "-", "--rate", "0.5", stdin=content)
    assert proc.returncode == 1
    assert "empty" in one_line_error(proc)


def test_invalid_utf8(tmp_path: Path) -> None:
    file = tmp_path / "bad.txt"
    file.write_bytes(b"caf\xe9 au lait\xff")
    for command in ("compress", "count"):
        proc = run(command, str(file))
        assert proc.returncode == 1
        assert "UTF-8" in one_line_error(proc)


def test_two_megabyte_file_is_refused_before_loading(tmp_path: Path) -> None:
    file = tmp_path / "big.txt"
    file.write_text("All work and no play makes Jack a dull boy. " * 48_000, encoding="utf-8")
    assert file.stat().st_size > 2_000_000
    proc = run("compress", str(file), "--rate", "0.5", "--model", "/nonexistent/never-loaded")
    assert proc.returncode == 1
    assert "too large" in one_line_error(proc)


def test_missing_file() -> None:
    proc = run("compress", "/no/such/prompt.txt")
    assert proc.returncode == 1
    assert "No such file" in one_line_error(proc)


def test_unknown_model_spec(inline_cli: InlineCli) -> None:
    proc = inline_cli("compress", "-", "--model", "./no-such-folder", stdin=b"text to compress here")
    assert proc.returncode == 1
    assert "does not exist" in one_line_error(proc)


def test_hub_id_not_cached_says_how_to_get_it(tmp_path: Path) -> None:
    env = {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    proc = run("compress", "-", "--model", "someorg/some-model-not-cached", stdin=b"text to compress", env=env)
    assert proc.returncode == 1
    message = one_line_error(proc)
    assert "not in the local Hugging Face cache" in message
    assert "hf download someorg/some-model-not-cached" in message


def test_bad_preserve_regex() -> None:
    proc = run("compress", "-", "--preserve", "([unclosed", stdin=b"text")
    assert proc.returncode == 1
    assert "([unclosed" in one_line_error(proc)


def test_compress_json_structured_prompt(tmp_path: Path, gsm8k_prompt: str, inline_cli: InlineCli) -> None:
    demos = [d for d in gsm8k_prompt.split("\n\n") if d.strip()]
    prompt = {
        "instruction": "Solve the grade-school math problem. Think step by step.",
        "context": demos,
        "question": "Question: A baker makes 24 rolls and sells 3/4 of them. How many rolls are left?",
    }
    file = tmp_path / "prompt.json"
    file.write_text(json.dumps(prompt), encoding="utf-8")
    proc = inline_cli("compress", str(file), "--rate", "0.3", "--json")
    assert proc.returncode == 0, proc.stderr.decode()
    data = json.loads(proc.stdout)
    assert data["method"] == "longllmlingua"  # a question is given: question-aware by default
    assert data["model"] == "SmolLM2-135M-Instruct (embedded)"
    assert data["encoding"] == "o200k_base"
    assert data["seconds"] > 0 and data["load_seconds"] > 0
    text = data["compressed_prompt"]
    assert data["saved_tokens"] == data["origin_tokens"] - data["compressed_tokens"]
    assert data["rate"] == pytest.approx(data["compressed_tokens"] / data["origin_tokens"])
    assert data["target_tokens"] == round(0.3 * data["origin_tokens"])
    # the kept spans rebuild the output from the structured prompt's own text
    whole = "\n\n".join([prompt["instruction"], *prompt["context"], prompt["question"]])
    rebuilt = "".join(whole[s:e] for s, e in data["kept_spans"])
    assert "".join(rebuilt.split()) == "".join(text.split())
    assert text.startswith(prompt["instruction"])
    assert text.endswith(prompt["question"])
    assert data["compressed_tokens"] == count_tokens(text)
    assert data["ratio"] == pytest.approx(data["origin_tokens"] / data["compressed_tokens"])
    assert (
        abs(data["compressed_tokens"] - 0.3 * data["origin_tokens"])
        <= BUDGET_TOLERANCE * 0.3 * data["origin_tokens"] + 1
    )


def test_compress_text_target_tokens(gsm8k_prompt: str) -> None:
    proc = run(
        "compress", "-", "--target-tokens", "600", "--method", "llmlingua", "--json", stdin=gsm8k_prompt.encode()
    )
    assert proc.returncode == 0, proc.stderr.decode()
    data = json.loads(proc.stdout)
    assert data["method"] == "llmlingua"
    assert abs(data["compressed_tokens"] - 600) <= BUDGET_TOLERANCE * 600 + 1
    assert data["seconds"] > 0
    # stderr is a pipe here, as in a script: no library bars ("Loading weights"), no warnings
    assert proc.stderr.decode() == ""


def test_quiet_and_verbose(tmp_path: Path) -> None:
    """``-q`` leaves stdout the prompt and stderr empty; ``-v`` lets the libraries talk."""
    file = tmp_path / "p.txt"
    file.write_text("Summarise the report for the board. Keep the numbers: 12% growth, $4.1M revenue.\n" * 8)
    quiet = run("compress", str(file), "--rate", "0.5", "-q")
    assert quiet.returncode == 0 and quiet.stderr.decode() == ""
    assert "12%" in quiet.stdout.decode()
    # `lingua compress FILE > out 2> err` in a script: the prompt on stdout, stderr empty
    plain = run("compress", str(file), "--rate", "0.5")
    assert plain.returncode == 0 and plain.stderr.decode() == ""
    assert plain.stdout.decode() == quiet.stdout.decode()
    # through transformers (the native runner has no bar of its own to show)
    loud = run("compress", str(file), "--rate", "0.5", "-v", env={"LINGUA_BACKEND": "transformers"})
    assert loud.returncode == 0
    assert "Loading weights" in loud.stderr.decode()  # transformers' own bar, let through
    assert "tokens (o200k_base)" in loud.stderr.decode()  # and Lingua's summary
    both = run("compress", str(file), "-q", "-v")
    assert both.returncode == 2 and "not allowed with" in one_line_error(both)


def test_wrong_method_for_model(inline_cli: InlineCli) -> None:
    proc = inline_cli("compress", "-", "--method", "llmlingua2", stdin=b"a prompt with some words in it")
    assert proc.returncode == 1
    assert "token-classification" in one_line_error(proc)


def test_token_classifier_model_runs_llmlingua2(tmp_path: Path, gsm8k_prompt: str, inline_cli: InlineCli) -> None:
    from tests.core.test_llmlingua2 import _tiny_bert

    model_dir = _tiny_bert(tmp_path / "renamed-classifier")
    proc = inline_cli(
        "compress", "-", "--model", str(model_dir), "--rate", "0.4", "--json", stdin=gsm8k_prompt.encode()
    )
    assert proc.returncode == 0, proc.stderr.decode()
    data = json.loads(proc.stdout)
    assert data["method"] == "llmlingua2"  # chosen from the architecture, not the folder's name
    assert (
        abs(data["compressed_tokens"] - 0.4 * data["origin_tokens"])
        <= BUDGET_TOLERANCE * 0.4 * data["origin_tokens"] + 1
    )
    rebuilt = "".join(gsm8k_prompt[s:e] for s, e in data["kept_spans"])
    assert rebuilt == data["compressed_prompt"]
    proc = inline_cli("compress", "-", "--model", str(model_dir), "--method", "llmlingua", stdin=b"some words here")
    assert proc.returncode == 1
    assert "token classifier" in one_line_error(proc)


def test_no_protect_lets_a_kind_be_compressed_and_names_the_kinds(inline_cli: InlineCli) -> None:
    text = (
        "Readings from meter 4 were 12.5 kWh on Monday, 13.1 kWh on Tuesday, 11.8 kWh on Wednesday, "
        "14.2 kWh on Thursday and 10.9 kWh on Friday, which the report lists for the whole week. " * 3
    )
    kept = inline_cli("compress", "-", "--rate", "0.3", "--json", stdin=text.encode())
    assert kept.returncode == 0, kept.stderr.decode()
    numbers = re.findall(r"\d+\.\d kWh", text)
    assert all(n in json.loads(kept.stdout)["compressed_prompt"] for n in numbers)
    free = inline_cli("compress", "-", "--rate", "0.3", "--json", "--no-protect", "numbers", stdin=text.encode())
    assert free.returncode == 0, free.stderr.decode()
    out = json.loads(free.stdout)["compressed_prompt"]
    assert sum(n in out for n in numbers) < len(numbers)
    bad = inline_cli("compress", "-", "--no-protect", "digits", stdin=text.encode())
    assert bad.returncode == 2
    assert "numbers" in bad.stderr.decode()  # the usage error lists the known kinds


def test_a_reader_that_stops_early_gets_no_traceback(tmp_path: Path) -> None:
    # `lingua compress FILE | head -1`: the pipe closes before the prompt is written.
    file = tmp_path / "p.txt"
    file.write_text("Keep the numbers: 12% growth, $4.1M revenue, 41 engineers, 3 regions.\n" * 12)
    for args in (["count", str(file)], ["compress", str(file), "--rate", "0.5"]):
        reader, writer = os.pipe()
        os.close(reader)  # nobody will read
        proc = subprocess.run([*LINGUA, *args], stdout=writer, stderr=subprocess.PIPE, timeout=300, check=False)
        os.close(writer)
        assert "Traceback" not in proc.stderr.decode() and "Exception ignored" not in proc.stderr.decode()
        assert proc.returncode == 1, proc.stderr.decode()
