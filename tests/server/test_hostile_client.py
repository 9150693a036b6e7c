"""A client that breaks the protocol: every request still gets an answer, or the server exits.

The real server (``python -m server``) spoken to in raw bytes over pipes, since a well-behaved
client library cannot send a wrong ``Content-Length``. Nothing here loads the model: hovers
on a prompt file only count tokens.
"""

from __future__ import annotations

import io
import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.framing import FramingError, read_frame
from tests.server.conftest import ROOT

INVALID_PARAMS, PARSE_ERROR, INVALID_REQUEST = -32602, -32700, -32600
PROMPT = "You are a support assistant: answer questions about the customer's order politely and briefly.\n"
HOVER = {"line": 0, "character": 10}
TIMEOUT = 20.0


def _frame(message: dict[str, Any] | bytes, length_change: int = 0, length: bytes | None = None) -> bytes:
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    announced = length if length is not None else str(len(body) + length_change).encode()
    return b"Content-Length: " + announced + b"\r\n\r\n" + body


class RawServer:
    """``python -m server`` behind pipes; what it sends is read on a thread into a queue."""

    def __init__(self, tmp_path: Path) -> None:
        self.uri = (tmp_path / "support.prompt.md").as_uri()
        self.root = tmp_path.as_uri()
        self.stderr_path = tmp_path / "server-stderr.log"
        with self.stderr_path.open("wb") as stderr:  # a file: a full pipe would stall the server
            self.process = subprocess.Popen(
                [sys.executable, "-m", "server"],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env={**os.environ, "LINGUA_LOG_LEVEL": "INFO"},
            )
        self.received: list[dict[str, Any]] = []  # everything the server sent, in order
        self._inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._ids = iter(range(1, 1_000_000))
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        while True:
            try:
                body = read_frame(self.process.stdout)  # type: ignore[arg-type]
            except FramingError:
                body = None
            self._inbox.put(None if body is None else json.loads(body))
            if body is None:
                return

    def send(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def next_id(self) -> int:
        return next(self._ids)

    def wait_for(self, msg_id: int | None) -> dict[str, Any]:
        """The response with ``msg_id`` (None: an error response with a null id); the server's
        own requests are answered on the way."""
        while True:
            message = self._inbox.get(timeout=TIMEOUT)
            assert message is not None, f"the server stopped before answering {msg_id}:\n{self.stderr()}"
            self.received.append(message)
            if "method" not in message and message.get("id") == msg_id:
                return message
            if "method" in message and "id" in message:
                result: list[dict[str, Any]] | None = None
                if message["method"] == "workspace/configuration":
                    result = [{} for _ in message["params"]["items"]]
                self.send(_frame({"jsonrpc": "2.0", "id": message["id"], "result": result}))

    def request(self, method: str, params: Any) -> dict[str, Any]:
        msg_id = self.next_id()
        self.send(_frame({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}))
        return self.wait_for(msg_id)

    def notify(self, method: str, params: Any) -> None:
        self.send(_frame({"jsonrpc": "2.0", "method": method, "params": params}))

    def start_session(self) -> None:
        answer = self.request("initialize", {"processId": os.getpid(), "rootUri": self.root, "capabilities": {}})
        assert "result" in answer, answer
        self.notify("initialized", {})
        document = {"uri": self.uri, "languageId": "markdown", "version": 1, "text": PROMPT}
        self.notify("textDocument/didOpen", {"textDocument": document})

    def hover(self, position: Any) -> dict[str, Any]:
        return self.request("textDocument/hover", {"textDocument": {"uri": self.uri}, "position": position})

    def assert_still_answers(self) -> None:
        answer = self.hover(HOVER)
        assert "tokens" in answer["result"]["contents"]["value"], answer

    def popups(self) -> list[dict[str, Any]]:
        return [m for m in self.received if m.get("method") == "window/showMessage"]

    def exit_status(self, timeout: float = TIMEOUT) -> int:
        return self.process.wait(timeout=timeout)

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.request("shutdown", None)
                self.notify("exit", None)
                self.process.wait(timeout=TIMEOUT)
            except Exception:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RawServer]:
    """One session for the faults the server recovers from: each test ends with the server answering."""
    raw = RawServer(tmp_path_factory.mktemp("hostile"))
    raw.start_session()
    raw.assert_still_answers()
    yield raw
    raw.close()


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[RawServer]:
    """A session of its own, for the faults that end it."""
    raw = RawServer(tmp_path)
    raw.start_session()
    yield raw
    raw.close()


BAD_POSITIONS = [
    {"line": -1, "character": 0},
    {"line": 0, "character": -3},
    None,
    {"line": 1099511627776, "character": 0},
    {"line": "one", "character": 0},
    "0:0",
]


def test_invalid_positions_get_invalid_params(server: RawServer) -> None:
    for position in BAD_POSITIONS:
        answer = server.hover(position)
        assert answer.get("error", {}).get("code") == INVALID_PARAMS, (position, answer)
        assert "position" in answer["error"]["message"]
    server.assert_still_answers()
    assert server.popups() == []


def test_code_action_range_at_line_minus_one_gets_invalid_params(server: RawServer) -> None:
    selection = {"start": {"line": -1, "character": 0}, "end": {"line": 0, "character": 5}}
    params = {"textDocument": {"uri": server.uri}, "range": selection, "context": {"diagnostics": []}}
    answer = server.request("textDocument/codeAction", params)
    assert answer["error"]["code"] == INVALID_PARAMS, answer
    assert "Position.line should be in range" in answer["error"]["message"]
    server.assert_still_answers()
    assert server.popups() == []


def test_an_error_answer_leaves_no_traceback_in_the_log(server: RawServer) -> None:
    """An argument Lingua refuses is answered and explained; the log gets no pygls traceback."""
    params = {"command": "lingua.countTokens", "arguments": [{"uri": 5}]}
    answer = server.request("workspace/executeCommand", params)
    assert answer["error"]["code"] == INVALID_PARAMS, answer
    server.assert_still_answers()
    assert "Traceback" not in server.stderr(), server.stderr()[-2000:]


@pytest.mark.parametrize(
    ("argument", "named"),
    [({"text": 123}, "text must be a string"), ({"uri": 5}, "uri must be a string"), ({}, "uri must be a string")],
)
def test_a_wrong_argument_is_named_in_the_answer(server: RawServer, argument: dict[str, Any], named: str) -> None:
    answer = server.request("workspace/executeCommand", {"command": "lingua.countTokens", "arguments": [argument]})
    assert answer["error"]["code"] == INVALID_PARAMS, answer
    assert named in answer["error"]["message"], answer


def test_notification_with_invalid_params_is_dropped_quietly(server: RawServer) -> None:
    change = {"range": {"start": {"line": -1, "character": 0}, "end": {"line": 0, "character": 0}}, "text": "x"}
    identifier = {"uri": server.uri, "version": 2}
    server.notify("textDocument/didChange", {"textDocument": identifier, "contentChanges": [change]})
    server.assert_still_answers()
    assert server.popups() == []


@pytest.mark.parametrize("body", [b"{not json", b"", b"\xff\xfe{}", b"[" * 100_000])
def test_a_body_that_is_not_json_gets_a_parse_error(server: RawServer, body: bytes) -> None:
    server.send(_frame(body))
    answer = server.wait_for(None)
    assert answer["error"]["code"] == PARSE_ERROR and answer["id"] is None, answer
    server.assert_still_answers()
    assert server.popups() == []


@pytest.mark.parametrize(
    "message",
    [
        [{"jsonrpc": "2.0", "id": 1, "method": "shutdown"}],
        42,
        {"hello": "world"},
        {"jsonrpc": "1.0", "id": 7, "method": "textDocument/hover"},
        {"jsonrpc": "2.0", "id": 7},
        {"jsonrpc": "2.0", "id": 7, "method": 12},
        {"jsonrpc": "2.0", "id": {"no": "objects"}, "method": "textDocument/hover"},
    ],
)
def test_json_that_is_not_json_rpc_gets_invalid_request(server: RawServer, message: Any) -> None:
    server.send(_frame(json.dumps(message).encode()))
    expected_id = 7 if isinstance(message, dict) and message.get("id") == 7 else None
    answer = server.wait_for(expected_id)
    assert answer["error"]["code"] == INVALID_REQUEST and answer["id"] == expected_id, answer
    server.assert_still_answers()
    assert server.popups() == []


@pytest.mark.parametrize("length", [b"-5", b"abc", b"", b"12345678901234567890"])
def test_a_bad_content_length_ends_the_process(fresh: RawServer, length: bytes) -> None:
    fresh.send(_frame({"jsonrpc": "2.0", "id": 99, "method": "shutdown"}, length=length))
    assert fresh.exit_status() != 0
    assert "broke the LSP framing" in fresh.stderr()


def test_a_body_longer_than_announced_is_answered_then_ends_the_process(fresh: RawServer) -> None:
    """The first bytes are no JSON; the rest, where a header should be, is no header."""
    hover = {"textDocument": {"uri": fresh.uri}, "position": HOVER}
    fresh.send(_frame({"jsonrpc": "2.0", "id": 99, "method": "textDocument/hover", "params": hover}, -50))
    assert fresh.wait_for(None)["error"]["code"] == PARSE_ERROR
    assert fresh.exit_status() != 0
    assert "broke the LSP framing" in fresh.stderr()


def test_a_body_shorter_than_announced_ends_the_process_at_the_next_message(fresh: RawServer) -> None:
    """The server cannot know the body is short until more bytes come: the next message's
    first bytes complete it (no JSON), and the rest of that message is no header."""
    hover = {"textDocument": {"uri": fresh.uri}, "position": HOVER}
    fresh.send(_frame({"jsonrpc": "2.0", "id": 98, "method": "textDocument/hover", "params": hover}, 5))
    fresh.send(_frame({"jsonrpc": "2.0", "id": 99, "method": "textDocument/hover", "params": hover}))
    assert fresh.wait_for(None)["error"]["code"] == PARSE_ERROR
    assert fresh.exit_status() != 0
    assert "broke the LSP framing" in fresh.stderr()


@pytest.mark.parametrize(
    ("stream", "bodies"),
    [
        (b"Content-Length: 2\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{}", [b"{}"]),
        (b"content-length:2\n\n{}\r\nContent-Length: 1\r\n\r\n1", [b"{}", b"1"]),
        (b"Content-Length: 3\r\n\r\n{}", []),  # the input ends inside the body
    ],
)
def test_frames_that_are_read(stream: bytes, bodies: list[bytes]) -> None:
    reader = io.BufferedReader(io.BytesIO(stream))
    found = []
    while (body := read_frame(reader)) is not None:
        found.append(body)
    assert found == bodies


@pytest.mark.parametrize(
    "stream",
    [
        b"Content-Length: -5\r\n\r\n{}",
        b"Content-Length: 1\r\nContent-Length: 2\r\n\r\n{}",
        b"Content-Type: text/plain\r\n\r\n{}",
        b"Content-Length: 2\r\n\r\n{}} junk",
        b"Content-Length: 2\r\n\r\n{}junk and no newline",  # caught before a newline comes
        b"x" * 10_000,
    ],
)
def test_frames_that_break_the_stream(stream: bytes) -> None:
    reader = io.BufferedReader(io.BytesIO(stream))
    with pytest.raises(FramingError):
        while read_frame(reader) is not None:
            pass
