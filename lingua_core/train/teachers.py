"""The LLMs that write distillation data: an OpenAI-compatible endpoint or a local causal LM.

Distillation only needs "send chat messages, get text back", so a teacher is anything with a
name and a ``chat`` method. The runner needs two more facts: how many requests may run at
once (a remote endpoint serves many, a local model on one device one), and whether a reply
was cut by the token limit, since a truncated compression would label the rest of the
original "drop" as if the teacher had chosen to delete it.

The endpoint client uses only the standard library: a distillation run is long and
unattended, so its failure handling is spelled out here rather than left to a client
library's defaults. Transient failures (429, 5xx, timeouts, dropped connections) are retried
with exponential backoff and jitter, honouring ``Retry-After``; failures that retrying
cannot fix are raised at once, and those that would fail every request alike (wrong URL,
key or model) are marked fatal so the run stops instead of burning through the corpus.
Neither the API key nor any prompt text is ever logged or put in an error message.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import logging
import os
import random
import re
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from typing import Any, Protocol

from lingua_core.errors import LinguaError, ModelError
from lingua_core.models import EMBEDDED, LoadedModel, ModelKind

log = logging.getLogger(__name__)

Messages = list[dict[str, str]]

DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"


class TeacherError(LinguaError):
    """A request that failed for good: after its retries, or one that retrying cannot fix.

    ``fatal`` marks failures every request would share (bad URL, key, model, quota), so the
    runner stops the run rather than record the same error for each chunk.
    """

    def __init__(self, message: str, *, attempts: int = 1, fatal: bool = False) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.fatal = fatal


@dataclass(frozen=True)
class Reply:
    """A teacher's answer and what it cost."""

    text: str
    finish_reason: str | None = None  # "stop"; "length" when max_tokens cut it short
    attempts: int = 1
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class Teacher(Protocol):
    @property
    def name(self) -> str:
        """Recorded with every result, so a dataset can be traced to the model that wrote it."""
        ...

    @property
    def max_workers(self) -> int | None:
        """Requests that may run at once; None for no limit of the teacher's own."""
        ...

    def chat(self, messages: Messages, *, max_tokens: int, temperature: float) -> Reply: ...


_THINKING_RE = re.compile(r"^\s*<think>.*?</think>\s*", re.DOTALL)


def strip_thinking(text: str) -> str:
    """The answer without a leading ``<think>`` block, which reasoning models put in the content."""
    return _THINKING_RE.sub("", text, count=1).strip()


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one request. Delays double from ``base_delay`` up to ``max_delay``.

    Each delay is drawn from its upper half (``d/2 + uniform(0, d/2)``): parallel workers hit
    by the same 429 then spread out, while the wait still grows.
    """

    attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 60.0
    max_retry_after: float = 300.0  # a longer Retry-After is capped, not obeyed

    def delay(self, attempt: int, rng: random.Random) -> float:
        """The jittered wait after failed attempt number ``attempt`` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


# Worth retrying: timeouts, conflicts, "too early", rate limits and every server error.
_RETRY_STATUSES = frozenset({408, 409, 425, 429})


def _retry_after(headers: Message | None) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms``, or ``Retry-After`` seconds or date)."""
    if headers is None:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _server_message(payload: bytes) -> str:
    """The ``error.message`` of an OpenAI-style error body, shortened; never the raw body.

    The raw body of a validation error may echo the request, prompt included.
    """
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return ""
    error = data.get("error") if isinstance(data, dict) else None
    message = error.get("message") if isinstance(error, dict) else error if isinstance(error, str) else None
    if not isinstance(message, str):
        return ""
    message = " ".join(message.split())
    return message if len(message) <= 200 else message[:197] + "..."


def _error_code(payload: bytes) -> str:
    try:
        error = json.loads(payload).get("error")
        return str(error.get("code") or error.get("type") or "") if isinstance(error, dict) else ""
    except (ValueError, AttributeError, UnicodeDecodeError):
        return ""


def _endpoint_urls(base_url: str) -> tuple[str, str]:
    """The chat-completions URL to call, and the same without credentials or query to show.

    The shown form goes into every record and message; a URL may carry a password
    (``https://user:pass@host``) or a key in its query (``?api-key=``).
    """
    parts = urllib.parse.urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TeacherError(f"teacher URL {base_url!r} must start with http:// or https:// and name a host", fatal=True)
    path = parts.path.rstrip("/")
    if not path.endswith("/chat/completions"):
        path += "/chat/completions"
    full = urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return full, urllib.parse.urlunsplit((parts.scheme, netloc, path, "", ""))


class _Transient(Exception):
    """One attempt failed in a way the next may not; carries the server's requested wait."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class EndpointTeacher:
    """An OpenAI-compatible ``/chat/completions`` endpoint: OpenAI, vLLM, llama.cpp, Ollama...

    ``base_url`` is the API root (``https://api.openai.com/v1``, ``http://localhost:8000/v1``);
    a URL already ending in ``/chat/completions`` is used as is. The key is read once from
    the environment variable named ``api_key_env``; local servers often need none, so a
    missing key only matters when the server says 401.
    """

    max_workers: int | None = None

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str = DEFAULT_API_KEY_ENV,
        timeout: float = 120.0,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] = time.sleep,
        seed: int | None = None,
    ) -> None:
        if not model.strip():
            raise TeacherError("no teacher model name: give the model the endpoint serves (e.g. gpt-4o)", fatal=True)
        self._request_url, self.url = _endpoint_urls(base_url)
        self.model = model.strip()
        self.api_key_env = api_key_env
        self._api_key = os.environ.get(api_key_env) or None
        self.timeout = timeout
        self.retry = retry
        self._sleep = sleep
        self._rng = random.Random(seed)
        # OpenAI's reasoning models refuse "max_tokens"; learnt from the first 400 that says so.
        self._token_field = "max_tokens"

    @property
    def name(self) -> str:
        return f"{self.model} @ {self.url.removesuffix('/chat/completions')}"

    def __repr__(self) -> str:  # no key, ever
        return f"EndpointTeacher({self.url!r}, {self.model!r}, api_key_env={self.api_key_env!r})"

    def chat(self, messages: Messages, *, max_tokens: int, temperature: float) -> Reply:
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._once(messages, max_tokens, temperature, attempt)
            except _Transient as exc:
                if attempt >= self.retry.attempts:
                    raise TeacherError(f"{exc.reason}; gave up after {attempt} attempts", attempts=attempt) from None
                wait = self.retry.delay(attempt, self._rng)
                if exc.retry_after is not None:
                    wait = max(wait, min(exc.retry_after, self.retry.max_retry_after))
                log.info("teacher: %s; retry %d/%d in %.1f s", exc.reason, attempt, self.retry.attempts - 1, wait)
                self._sleep(wait)

    def _once(self, messages: Messages, max_tokens: int, temperature: float, attempt: int) -> Reply:
        body = {"model": self.model, "messages": messages, self._token_field: max_tokens, "temperature": temperature}
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        request = urllib.request.Request(
            self._request_url, data=json.dumps(body).encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            try:
                payload = exc.read() if exc.fp is not None else b""
            except (OSError, http.client.HTTPException):
                payload = b""  # the status says enough
            return self._http_error(exc.code, payload, exc.headers, messages, max_tokens, temperature, attempt)
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, ssl.SSLCertVerificationError):
                raise TeacherError(f"TLS certificate of {self.url} cannot be verified: {reason}", fatal=True) from None
            if isinstance(reason, TimeoutError):
                raise _Transient(f"no answer within {self.timeout:g} s") from None
            raise _Transient(f"cannot reach {self.url} ({reason})") from None
        except TimeoutError:
            raise _Transient(f"no answer within {self.timeout:g} s") from None
        except (ConnectionError, http.client.HTTPException) as exc:
            raise _Transient(f"connection to {self.url} broke ({type(exc).__name__})") from None
        return self._parse(payload, attempt)

    def _http_error(
        self,
        status: int,
        payload: bytes,
        headers: Message | None,
        messages: Messages,
        max_tokens: int,
        temperature: float,
        attempt: int,
    ) -> Reply:
        detail = _server_message(payload)
        said = f": {detail}" if detail else ""
        if status == 400 and "max_completion_tokens" in detail and self._token_field == "max_tokens":
            self._token_field = "max_completion_tokens"
            return self._once(messages, max_tokens, temperature, attempt)
        if status == 429 and _error_code(payload) == "insufficient_quota":
            raise TeacherError(f"the account behind ${self.api_key_env} is out of quota (429){said}", fatal=True)
        if status in _RETRY_STATUSES or status >= 500:
            raise _Transient(f"HTTP {status}{said}", _retry_after(headers))
        if status == 401:
            key = (
                f"the key in ${self.api_key_env} was refused"
                if self._api_key
                else f"no API key was sent: ${self.api_key_env} is not set"
            )
            raise TeacherError(
                f"{self.url} answered 401 Unauthorized: {key}; set a valid key or pick the variable "
                f"with --api-key-env{said}",
                fatal=True,
            )
        if status == 403:
            raise TeacherError(
                f"{self.url} answered 403 Forbidden: the key in ${self.api_key_env} may not use model "
                f"{self.model!r}{said}",
                fatal=True,
            )
        if status in (404, 405):
            raise TeacherError(
                f"{self.url} answered {status}: check the URL (the API root, usually ending in /v1, e.g. "
                f"http://localhost:8000/v1) and that the endpoint serves model {self.model!r}{said}",
                fatal=True,
            )
        # 400, 413, 422...: this request is wrong (too long for the context, say); others may pass.
        raise TeacherError(f"the endpoint rejected the request (HTTP {status}){said}", attempts=attempt)

    def _parse(self, payload: bytes, attempt: int) -> Reply:
        try:
            data = json.loads(payload)
            choice = data["choices"][0]
            content = choice["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError, UnicodeDecodeError):
            raise TeacherError(
                f"{self.url} did not answer like an OpenAI chat-completions endpoint; is the URL the API root?",
                attempts=attempt,
                fatal=True,
            ) from None
        if isinstance(content, list):  # content parts, as some servers return
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        if not isinstance(content, str):
            raise TeacherError("the teacher returned no text (a refusal or a tool call?)", attempts=attempt)
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        return Reply(
            text=strip_thinking(content),
            finish_reason=choice.get("finish_reason"),
            attempts=attempt,
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
        )


class LocalTeacher:
    """A transformers causal LM on this machine, prompted through its own chat template.

    Greedy by default (``temperature=0``), as data distillation wants the teacher's single
    best answer. Loaded on the first request, so building a teacher to check the options
    costs nothing; requests run one at a time (one model, one device).
    """

    max_workers: int | None = 1

    def __init__(
        self,
        spec: str = EMBEDDED,
        *,
        device: str = "auto",
        dtype: str = "auto",
        allow_download: bool | None = None,
    ) -> None:
        self.spec = spec
        self.device = device
        self.dtype = dtype
        self.allow_download = allow_download
        self._loaded: LoadedModel | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"local:{self.spec}"

    def model(self) -> LoadedModel:
        with self._lock:
            if self._loaded is None:
                from lingua_core.models import load_model

                # generate() and the chat template are transformers'
                loaded = load_model(self.spec, self.device, self.dtype, self.allow_download, backend="transformers")
                if loaded.kind is not ModelKind.CAUSAL_LM:
                    raise ModelError(f"teacher {self.spec!r} is a token classifier; a teacher must be a causal LM")
                if not getattr(loaded.tokenizer, "chat_template", None):
                    raise ModelError(f"teacher {self.spec!r} has no chat template: use an instruction-tuned model")
                self._loaded = loaded
            return self._loaded

    def chat(self, messages: Messages, *, max_tokens: int, temperature: float) -> Reply:
        import copy

        import torch

        loaded = self.model()
        tokenizer, model = loaded.tokenizer, loaded.model
        inputs = _chat_inputs(tokenizer, messages)
        length = int(inputs["input_ids"].shape[1])
        if length + max_tokens > loaded.max_positions:
            raise TeacherError(
                f"prompt of {length} tokens plus {max_tokens} to write exceeds the teacher's "
                f"{loaded.max_positions}-token context; use smaller chunks"
            )
        config = copy.deepcopy(model.generation_config)
        config.max_new_tokens = max_tokens
        config.do_sample = temperature > 0
        config.temperature = temperature if temperature > 0 else None
        if temperature <= 0:
            config.top_p = config.top_k = None
        if config.pad_token_id is None:
            config.pad_token_id = tokenizer.eos_token_id
        with torch.inference_mode():
            output = model.generate(**{k: v.to(loaded.device) for k, v in inputs.items()}, generation_config=config)
        new = output[0, length:].tolist()
        eos = config.eos_token_id if config.eos_token_id is not None else tokenizer.eos_token_id
        stops = set(eos) if isinstance(eos, list) else {eos}
        finish = "stop" if (new and new[-1] in stops) or len(new) < max_tokens else "length"
        text = tokenizer.decode(new, skip_special_tokens=True)
        return Reply(strip_thinking(text), finish, 1, length, len(new))


def _chat_inputs(tokenizer: Any, messages: Messages) -> Any:
    """Token ids of the chat; a template that refuses a system turn (Gemma's, some Mistral
    ones) gets the system prompt at the head of the first user turn instead."""

    def render(chat: Messages) -> Any:
        return tokenizer.apply_chat_template(chat, add_generation_prompt=True, return_tensors="pt", return_dict=True)

    try:
        return render(messages)
    except Exception:
        if len(messages) < 2 or messages[0]["role"] != "system" or messages[1]["role"] != "user":
            raise
    merged = {"role": "user", "content": f"{messages[0]['content']}\n\n{messages[1]['content']}"}
    return render([merged, *messages[2:]])
