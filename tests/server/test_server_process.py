"""The server as a process: what it writes to its log, and the environment it honours.

Spoken to in raw JSON-RPC over pipes, so that everything the server prints to stderr (which
editors keep as the server's output) is captured whole.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import ROOT

SECRET = "Zanzibar-owl-7734"
PROMPT = (
    f"You are the support assistant of {SECRET} and you answer questions about the order of the customer, "
    "politely and briefly, and you never promise a refund that the policy does not allow.\n"
)


def _frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


def _read(stream: Any) -> dict[str, Any]:
    length = 0
    while (line := stream.readline()) not in (b"\r\n", b""):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return dict(json.loads(stream.read(length)))


def _session(tmp_path: Path, args: list[str], env: dict[str, str], requests: list[tuple[str, dict[str, Any]]]) -> str:
    """Run one server through initialize, ``requests`` (each answered in turn), shutdown and
    exit; return its log: stderr, then the lines it sent as ``window/logMessage``."""
    uri = (tmp_path / "support.prompt.md").as_uri()
    process = subprocess.Popen(
        [sys.executable, "-m", "server", *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **env},
    )
    assert process.stdin is not None and process.stdout is not None
    ids = iter(range(1, 1000))
    logged: list[str] = []

    def request(method: str, params: dict[str, Any] | None) -> dict[str, Any]:
        number = next(ids)
        process.stdin.write(_frame({"jsonrpc": "2.0", "id": number, "method": method, "params": params}))  # type: ignore[union-attr]
        process.stdin.flush()  # type: ignore[union-attr]
        while True:
            message = _read(process.stdout)
            if message.get("id") == number and "method" not in message:
                return message
            if message.get("method") == "window/logMessage":
                logged.append(f"[type {message['params']['type']}] {message['params']['message']}")
            if "id" in message and "method" in message:  # a request from the server: say yes
                reply = {"jsonrpc": "2.0", "id": message["id"], "result": None}
                if message["method"] == "workspace/configuration":
                    reply["result"] = [{} for _ in message["params"]["items"]]
                process.stdin.write(_frame(reply))  # type: ignore[union-attr]
                process.stdin.flush()  # type: ignore[union-attr]

    def notify(method: str, params: dict[str, Any]) -> None:
        process.stdin.write(_frame({"jsonrpc": "2.0", "method": method, "params": params}))  # type: ignore[union-attr]
        process.stdin.flush()  # type: ignore[union-attr]

    try:
        request("initialize", {"processId": os.getpid(), "rootUri": tmp_path.as_uri(), "capabilities": {}})
        notify("initialized", {})
        document = {"uri": uri, "languageId": "markdown", "version": 1, "text": PROMPT}
        notify("textDocument/didOpen", {"textDocument": document})
        for method, params in requests:
            answer = request(method, {**params, "textDocument": {"uri": uri}} if method.startswith("text") else params)
            assert "error" not in answer, answer
        request("shutdown", None)
        notify("exit", {})
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return stderr.decode(errors="replace") + "\n" + "\n".join(logged)


HOVER = ("textDocument/hover", {"position": {"line": 0, "character": 10}})


def _preview(tmp_path: Path) -> tuple[str, dict[str, Any]]:
    """A compression preview: its answer carries the prompt's text (the secret is an id, so kept)."""
    uri = (tmp_path / "support.prompt.md").as_uri()
    selection = {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": len(PROMPT) - 1}}
    arguments = [{"uri": uri, "range": selection, "rate": 0.5}]
    return "workspace/executeCommand", {"command": "lingua.preview", "arguments": arguments}


@pytest.mark.parametrize("logged", [False, True])
def test_prompt_text_reaches_the_log_only_with_log_protocol(tmp_path: Path, logged: bool) -> None:
    args = ["--log-protocol"] if logged else []
    stderr = _session(tmp_path, args, {"LINGUA_LOG_LEVEL": "DEBUG"}, [HOVER, _preview(tmp_path)])
    assert (SECRET in stderr) is logged, stderr[-2000:]


def test_torch_threads_follow_lingua_torch_threads(tmp_path: Path) -> None:
    # 3: not the default on this 2-core machine (half the cores) nor on most others
    stderr = _session(tmp_path, [], {"LINGUA_TORCH_THREADS": "3"}, [_preview(tmp_path)])
    assert "[type 3] INFO server.worker: model" in stderr and "compressing on 3 torch threads" in stderr, stderr[-2000:]
