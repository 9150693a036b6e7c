"""The LSP base protocol on stdio, strictly: ``Content-Length`` framing and the JSON-RPC envelope.

pygls' reader skips any line that is not ``Content-Length: <digits>``, so one wrong length
(``-5``, ``abc``, a body shorter or longer than announced) leaves it reading bodies as headers
for good: every later request goes unanswered while the process keeps running, and the client
never restarts it. It also answers a body that is not JSON, or not a JSON-RPC message, with a
``window/showMessage`` popup instead of an error response.

Here a body that is not JSON is answered with a Parse error (-32700) and one that is not a
JSON-RPC message with Invalid Request (-32600), and reading goes on. A broken frame (a
``Content-Length`` that is missing, not a number or too large; a line where a header should
be) cannot be recovered from: it ends the process with exit status 1 and a line in the log,
and the client starts a new server. A body shorter than announced shows only when more bytes
come: the next message completes it (a Parse error), and what is left of that message is no
header (the exit). Params that do not fit their method are ``LinguaProtocol``'s business
(-32602). Nothing read from the client is logged here: it may hold prompt text. ``--tcp``, a
debugging aid, keeps pygls' reader.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
import threading
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any, BinaryIO

from pygls.exceptions import JsonRpcException, JsonRpcInvalidRequest, JsonRpcParseError
from pygls.io_ import StdoutWriter

if TYPE_CHECKING:
    from pygls.protocol import JsonRPCProtocol
    from pygls.server import JsonRPCServer

log = logging.getLogger(__name__)

EXIT_FRAMING_ERROR = 1
MAX_HEADER_LINE = 8192
MAX_CONTENT_LENGTH = 256 * 2**20  # far above any document an editor syncs
CHUNK = 2**20  # a body is read in pieces: a huge Content-Length alone allocates nothing

_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_HEADER = re.compile(rb"(" + _TOKEN + rb"):[ \t]*(.*?)[ \t]*")
# What may come before the end of a header line: caught as soon as it arrives, not once a
# newline follows (the rest of a body longer than announced may be all the client sends).
_HEADER_START = re.compile(rb"(?:" + _TOKEN + rb"(?::[^\r\n]*)?)?\r?")


class FramingError(Exception):
    """The input no longer follows the base protocol, and where the next message starts is unknown."""


def read_frame(stream: BinaryIO) -> bytes | None:
    """The next message body, or None when the input ends; blocking (run it in a thread)."""
    length: int | None = None
    in_header = False
    while True:
        _check_ahead(stream)
        line = stream.readline(MAX_HEADER_LINE)
        if not line.endswith(b"\n"):
            if len(line) >= MAX_HEADER_LINE:
                raise FramingError(f"a header line longer than {MAX_HEADER_LINE} bytes")
            if line or in_header:
                log.warning("the input ended inside a message header")
            return None
        field = line.rstrip(b"\r\n")
        if not field:
            if in_header:
                break
            continue  # blank lines between messages are harmless
        in_header = True
        match = _HEADER.fullmatch(field)
        if match is None:
            raise FramingError("a line that is not a header where a header was expected")
        name, value = match.groups()
        if name.lower() == b"content-length":
            if not value.isdigit():
                raise FramingError(f"Content-Length {value[:20].decode('ascii', 'replace')!r} is not a byte count")
            if length is not None and int(value) != length:
                raise FramingError("two different Content-Length headers")
            length = int(value)
            if length > MAX_CONTENT_LENGTH:
                raise FramingError(f"Content-Length {length} is over the limit of {MAX_CONTENT_LENGTH} bytes")
    if length is None:
        raise FramingError("a header without Content-Length")
    chunks: list[bytes] = []
    missing = length
    while missing:
        chunk = stream.read(min(missing, CHUNK))
        if not chunk:
            log.warning("the input ended %d bytes before the end of a message", missing)
            return None
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def _check_ahead(stream: BinaryIO) -> None:
    """Fail on what is already buffered when it cannot begin a header line, without waiting for a
    newline that may never come."""
    peek = getattr(stream, "peek", None)
    if peek is None:
        return
    ahead: bytes = peek(1)
    newline = ahead.find(b"\n")
    if newline >= 0:
        ahead = ahead[:newline]
    if not _HEADER_START.fullmatch(ahead[:MAX_HEADER_LINE]):
        raise FramingError("bytes that are not a header where a header was expected")


def envelope_problem(data: Any) -> str | None:
    """Why ``data`` is not a JSON-RPC 2.0 request, notification or response (None if it is one)."""
    if not isinstance(data, dict):
        return "not a JSON object" + (" (LSP has no batches)" if isinstance(data, list) else "")
    if data.get("jsonrpc") != "2.0":
        return 'no "jsonrpc": "2.0"'
    if "method" in data:
        if not isinstance(data["method"], str):
            return "a method that is not a string"
        if "id" in data and not _is_id(data["id"]):
            return "an id that is neither an integer nor a string"
        return None
    if "id" not in data or ("result" in data) == ("error" in data):
        return "neither a request, a notification nor a response"
    if data["id"] is not None and not _is_id(data["id"]):
        return "an id that is neither an integer nor a string"
    return None


def _is_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def send_error(protocol: JsonRPCProtocol, msg_id: int | str | None, error: JsonRpcException) -> None:
    """An error response; by hand, as lsprotocol leaves out an id of None (JSON-RPC wants null)."""
    response = {"jsonrpc": "2.0", "id": msg_id, "error": {"code": error.code, "message": error.message}}
    protocol._send_data(response)


def dispatch(protocol: JsonRPCProtocol, body: bytes) -> None:
    """Decode one body and hand it to the protocol; answer what cannot be decoded."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        log.warning("a message of %d bytes that is not JSON: answered with a Parse error", len(body))
        send_error(protocol, None, JsonRpcParseError())
        return
    if problem := envelope_problem(data):
        msg_id = data.get("id") if isinstance(data, dict) and _is_id(data.get("id")) else None
        log.warning("a message that is not JSON-RPC (%s): answered with Invalid Request", problem)
        send_error(protocol, msg_id, JsonRpcInvalidRequest(f"Invalid Request: {problem}"))
        return
    try:
        protocol.handle_message(protocol.structure_message(data))
    except BrokenPipeError:
        raise
    except Exception:
        log.exception("could not handle a %s message", data.get("method", "response"))


async def serve(stream: BinaryIO, protocol: JsonRPCProtocol, stop: threading.Event, executor: Executor) -> None:
    """Read and dispatch messages until the input ends or the server stops."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        body = await loop.run_in_executor(executor, read_frame, stream)
        if body is None:
            break
        dispatch(protocol, body)


def start_io(server: JsonRPCServer, stdin: BinaryIO, stdout: BinaryIO) -> None:
    """pygls' ``start_io`` with the reader above; a broken frame exits with status 1."""
    server._stop_event = stop = threading.Event()
    server.protocol.set_writer(StdoutWriter(stdout))
    broken = False
    try:
        asyncio.run(serve(stdin, server.protocol, stop, server.thread_pool))
    except FramingError as exc:
        log.error("the client broke the LSP framing (%s): exiting for the client to start a new server", exc)
        broken = True
    except BrokenPipeError:
        log.error("the connection to the client is lost: shutting down")
    except (KeyboardInterrupt, SystemExit):  # as pygls: ``exit`` ends the loop with SystemExit
        pass
    finally:
        server.shutdown()  # type: ignore[no-untyped-call]
    if broken:
        sys.exit(EXIT_FRAMING_ERROR)
