"""The endpoint teacher against a real local HTTP server: answers, retries, backoff, fatal errors."""

from __future__ import annotations

import email.utils
import socket
import time

import pytest

from lingua_core.train.teachers import EndpointTeacher, RetryPolicy, TeacherError, _retry_after, strip_thinking
from tests.train.fake_openai import FakeOpenAI, compress, fake_openai

__all__ = ["fake_openai"]  # the fixture, imported for pytest

MESSAGES = [{"role": "user", "content": "Natalia sold clips to 48 of her friends in April."}]


def teacher(fake: FakeOpenAI, sleeps: list[float] | None = None, **kwargs: object) -> EndpointTeacher:
    record = sleeps.append if sleeps is not None else (lambda seconds: None)
    options: dict[str, object] = {"retry": RetryPolicy(attempts=4, base_delay=1.0, max_delay=8.0), **kwargs}
    return EndpointTeacher(fake.url, "fake-model", sleep=record, seed=0, **options)  # type: ignore[arg-type]


def test_answer_and_request_shape(fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    reply = teacher(fake_openai).chat(MESSAGES, max_tokens=64, temperature=0.0)
    assert reply.text == compress(MESSAGES[0]["content"])
    assert (reply.finish_reason, reply.attempts, reply.completion_tokens) == ("stop", 1, len(reply.text.split()))
    request = fake_openai.requests[0]
    assert request.body == {"model": "fake-model", "messages": MESSAGES, "max_tokens": 64, "temperature": 0.0}
    assert "authorization" not in request.headers  # no key set: none sent (a local server)


def test_key_from_the_named_variable_is_sent_never_shown(
    fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_TEACHER_KEY", "sk-secret-123")
    fake_openai.script.append("401")
    t = teacher(fake_openai, api_key_env="MY_TEACHER_KEY")
    assert "sk-secret" not in repr(t)
    with pytest.raises(TeacherError) as caught:
        t.chat(MESSAGES, max_tokens=16, temperature=0.0)
    assert fake_openai.requests[0].headers["authorization"] == "Bearer sk-secret-123"
    assert len(fake_openai.requests) == 1  # 401 is not retried
    assert caught.value.fatal
    message = str(caught.value)
    assert "401" in message and "$MY_TEACHER_KEY" in message and "sk-secret" not in message
    assert "Natalia" not in message  # nor the prompt


def test_missing_key_named_on_401(fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    fake_openai.script.append("401")
    with pytest.raises(TeacherError, match=r"\$OPENAI_API_KEY is not set"):
        teacher(fake_openai).chat(MESSAGES, max_tokens=16, temperature=0.0)


def test_429_waits_as_long_as_retry_after_says(fake_openai: FakeOpenAI) -> None:
    fake_openai.retry_after = "3"
    fake_openai.script.extend(["429", "429"])
    sleeps: list[float] = []
    reply = teacher(fake_openai, sleeps).chat(MESSAGES, max_tokens=16, temperature=0.0)
    assert reply.attempts == 3 and reply.text
    assert len(sleeps) == 2 and all(s >= 3.0 for s in sleeps)


def test_server_errors_back_off_exponentially_with_jitter(fake_openai: FakeOpenAI) -> None:
    fake_openai.script.extend(["500", "503", "500"])
    sleeps: list[float] = []
    reply = teacher(fake_openai, sleeps).chat(MESSAGES, max_tokens=16, temperature=0.0)
    assert reply.attempts == 4
    # Base 1 s doubling; each wait drawn from the upper half of its ceiling.
    for wait, ceiling in zip(sleeps, (1.0, 2.0, 4.0), strict=True):
        assert ceiling / 2 <= wait <= ceiling


def test_gives_up_after_the_attempts(fake_openai: FakeOpenAI) -> None:
    fake_openai.fail_after = 0
    with pytest.raises(TeacherError, match="gave up after 4 attempts") as caught:
        teacher(fake_openai).chat(MESSAGES, max_tokens=16, temperature=0.0)
    assert not caught.value.fatal and caught.value.attempts == 4
    assert len(fake_openai.requests) == 4


@pytest.mark.parametrize(("action", "fatal"), [("400", False), ("404", True), ("quota", True), ("garbage", True)])
def test_errors_retrying_cannot_fix_are_not_retried(fake_openai: FakeOpenAI, action: str, fatal: bool) -> None:
    fake_openai.script.append(action)
    with pytest.raises(TeacherError) as caught:
        teacher(fake_openai).chat(MESSAGES, max_tokens=16, temperature=0.0)
    assert len(fake_openai.requests) == 1
    assert caught.value.fatal is fatal


def test_wrong_url_says_what_to_fix(fake_openai: FakeOpenAI) -> None:
    wrong = EndpointTeacher(fake_openai.url.removesuffix("/v1"), "fake-model", sleep=lambda s: None)
    with pytest.raises(TeacherError, match=r"404: check the URL .*/v1") as caught:
        wrong.chat(MESSAGES, max_tokens=16, temperature=0.0)
    assert caught.value.fatal


def test_timeout_is_retried(fake_openai: FakeOpenAI) -> None:
    fake_openai.slow_seconds = 1.0
    fake_openai.script.append("slow")
    sleeps: list[float] = []
    reply = teacher(fake_openai, sleeps, timeout=0.3).chat(MESSAGES, max_tokens=16, temperature=0.0)
    # A second attempt means the first gave up at the timeout instead of waiting for the slow answer.
    assert reply.attempts == 2 and reply.text
    assert len(sleeps) == 1


def test_connection_refused_is_retried_then_reported() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps: list[float] = []
    dead = EndpointTeacher(
        f"http://127.0.0.1:{port}/v1", "m", retry=RetryPolicy(attempts=3), sleep=sleeps.append, seed=0
    )
    with pytest.raises(TeacherError, match="cannot reach") as caught:
        dead.chat(MESSAGES, max_tokens=16, temperature=0.0)
    assert caught.value.attempts == 3 and len(sleeps) == 2 and not caught.value.fatal


def test_switches_to_max_completion_tokens_when_told(fake_openai: FakeOpenAI) -> None:
    fake_openai.reject_max_tokens = True
    t = teacher(fake_openai)
    assert t.chat(MESSAGES, max_tokens=16, temperature=0.0).text
    assert t.chat(MESSAGES, max_tokens=16, temperature=0.0).text
    fields = [("max_tokens" in r.body, r.body.get("max_completion_tokens")) for r in fake_openai.requests]
    assert fields == [(True, None), (False, 16), (False, 16)]  # learnt once, then kept


def test_bad_configuration_is_refused_up_front() -> None:
    with pytest.raises(TeacherError, match="http"):
        EndpointTeacher("localhost:8000/v1", "m")
    with pytest.raises(TeacherError, match="host"):
        EndpointTeacher("http:///v1", "m")
    with pytest.raises(TeacherError, match="model"):
        EndpointTeacher("http://localhost:8000/v1", " ")
    full = EndpointTeacher("http://localhost:8000/v1/chat/completions/", "m")
    assert full.url == "http://localhost:8000/v1/chat/completions"


def test_credentials_in_the_url_are_used_but_never_shown() -> None:
    t = EndpointTeacher("https://me:hunter2@llm.example.com:8443/openai/v1?api-key=sk-in-query", "m")
    assert t._request_url == "https://me:hunter2@llm.example.com:8443/openai/v1/chat/completions?api-key=sk-in-query"
    assert t.url == "https://llm.example.com:8443/openai/v1/chat/completions"
    assert t.name == "m @ https://llm.example.com:8443/openai/v1"
    assert "hunter2" not in repr(t) and "sk-in-query" not in repr(t)


def test_retry_after_forms() -> None:
    from email.message import Message

    def headers(**values: str) -> Message:
        message = Message()
        for key, value in values.items():
            message[key.replace("_", "-")] = value
        return message

    assert _retry_after(headers(retry_after="7")) == 7.0
    assert _retry_after(headers(retry_after_ms="1500", retry_after="9")) == 1.5
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (_retry_after(headers(retry_after=date)) or 0) <= 31
    assert _retry_after(headers(retry_after="soon")) is None
    assert _retry_after(None) is None


def test_strip_thinking() -> None:
    assert strip_thinking("<think>\nlet me see\n</think>\n\nshort text") == "short text"
    assert strip_thinking("  keep <think>inside</think> text ") == "keep <think>inside</think> text"


def test_system_turn_folded_into_user_when_the_template_refuses_it() -> None:
    from lingua_core.train.teachers import _chat_inputs

    class NoSystemTemplate:
        def apply_chat_template(self, chat: list[dict[str, str]], **kwargs: object) -> list[dict[str, str]]:
            if any(m["role"] == "system" for m in chat):
                raise ValueError("System role not supported")
            return chat

    chat = [{"role": "system", "content": "Rules."}, {"role": "user", "content": "Text."}]
    assert _chat_inputs(NoSystemTemplate(), chat) == [{"role": "user", "content": "Rules.\n\nText."}]
    with pytest.raises(ValueError):
        _chat_inputs(NoSystemTemplate(), [{"role": "system", "content": "only a system turn"}])
