"""A real HTTP server speaking OpenAI's chat-completions protocol, with failures on demand.

It answers ``POST /v1/chat/completions`` with a deterministic extractive compression of the
last user message (words of four characters or more, punctuation dropped), so the labels a
test expects are known. Failures are scripted per request (``script``), or permanent after a
number of good answers (``fail_after``); every request is recorded for the test to inspect.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

TEXT_MARKER = "\n\nText:\n"  # where the default instruction puts the text to compress


def compress(text: str) -> str:
    """The fake teacher: keep the words of four or more characters, in order."""
    return " ".join(word for word in re.findall(r"\w+|[^\w\s]", text) if len(word) > 3)


def kept_words(text: str) -> list[str]:
    """What ``compress`` keeps, as words."""
    return compress(text).split()


@dataclass
class Request:
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class FakeOpenAI:
    # One entry per request, consumed in order: "ok", "429", "500", "503", "401", "400",
    # "404", "quota", "slow", "garbage"; when empty, requests succeed.
    script: deque[str] = field(default_factory=deque)
    fail_after: int | None = None  # after this many good answers, every request gets 503
    delay: float = 0.0  # seconds each answer takes (to see requests overlap)
    slow_seconds: float = 2.0
    retry_after: str | None = "0"  # the Retry-After header sent with 429
    reject_max_tokens: bool = False  # answer 400 to "max_tokens", like OpenAI's reasoning models
    requests: list[Request] = field(default_factory=list)
    answered: int = 0
    in_flight: int = 0
    peak: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def reset(self) -> None:
        with self.lock:
            self.script.clear()
            self.fail_after = None
            self.requests.clear()
            self.answered = 0

    def handle(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self.lock:
            action = self.script.popleft() if self.script else "ok"
            if action == "ok" and self.fail_after is not None and self.answered >= self.fail_after:
                action = "503"
        if action == "slow":
            time.sleep(self.slow_seconds)
            action = "ok"
        if action == "429":
            headers = {"Retry-After": self.retry_after} if self.retry_after is not None else {}
            return 429, {"error": {"message": "Rate limit reached", "type": "rate_limit"}}, headers
        if action == "quota":
            return 429, {"error": {"message": "You exceeded your quota", "code": "insufficient_quota"}}, {}
        if action in {"500", "503", "400", "401", "404"}:
            return int(action), {"error": {"message": f"scripted {action}"}}, {}
        if action == "garbage":
            return 200, {"unexpected": True}, {}
        if self.reject_max_tokens and "max_tokens" in body:
            message = "Unsupported parameter: 'max_tokens'. Use 'max_completion_tokens' instead."
            return 400, {"error": {"message": message}}, {}
        user = [m["content"] for m in body["messages"] if m["role"] == "user"][-1]
        text = user.split(TEXT_MARKER, 1)[1] if TEXT_MARKER in user else user
        if "POISON" in text:
            return 400, {"error": {"message": "this chunk is refused"}}, {}
        if self.delay:
            time.sleep(self.delay)
        with self.lock:
            self.answered += 1
        answer = compress(text)
        return (
            200,
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "model": body.get("model"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": len(user.split()), "completion_tokens": len(answer.split())},
            },
            {},
        )


def _handler(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length))
            with fake.lock:
                fake.requests.append(Request(body, {k.lower(): v for k, v in self.headers.items()}))
                fake.in_flight += 1
                fake.peak = max(fake.peak, fake.in_flight)
            try:
                if self.path != "/v1/chat/completions":
                    status, payload, headers = 404, {"error": {"message": "no such route"}}, {}
                else:
                    status, payload, headers = fake.handle(body)
            finally:
                with fake.lock:
                    fake.in_flight -= 1
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out and left

    return Handler


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
