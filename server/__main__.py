"""``python -m server``: the Lingua language server on stdio (``--tcp HOST:PORT`` to debug).

Logs go to the client as ``window/logMessage`` during a session and to stderr outside one
(``client_log``); the protocol traffic itself (which carries users' prompts) is only logged
with ``--log-protocol``.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
import threading
from collections.abc import Sequence


def _address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    try:
        return host or "127.0.0.1", int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}") from None


def _drop_answered_errors(record: logging.LogRecord) -> bool:
    """pygls logs a traceback for every error answer; ours are expected and already explained.

    On the handler, not on the ``pygls`` logger: a logger's filter sees only the records made
    on that very logger, and pygls logs from its child loggers."""
    from pygls.exceptions import JsonRpcException

    error = record.exc_info[1] if record.exc_info else None
    return not (record.name.startswith("pygls") and isinstance(error, JsonRpcException))


def _preload_tokenizer() -> None:
    try:
        from lingua_core.tokens import get_encoding

        get_encoding("o200k_base")
    except Exception:  # a missing rank file is reported when something counts
        logging.getLogger(__name__).debug("tokenizer preload failed", exc_info=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m server", description="The Lingua language server.")
    parser.add_argument("--stdio", action="store_true", help="talk LSP on stdin/stdout (the default)")
    parser.add_argument("--tcp", type=_address, metavar="HOST:PORT", help="listen on a TCP port instead")
    parser.add_argument("--log-level", default=os.environ.get("LINGUA_LOG_LEVEL", "INFO"), help="default INFO")
    parser.add_argument("--log-protocol", action="store_true", help="also log LSP messages (they contain your prompts)")
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr, level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # pygls logs whole messages (prompt text included) at INFO and DEBUG.
    pygls_log = logging.getLogger("pygls")
    pygls_log.setLevel(logging.DEBUG if args.log_protocol else logging.WARNING)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_drop_answered_errors)
    os.environ.setdefault("TQDM_DISABLE", "1")  # transformers' loading bars would fill the log

    # The model thread holds the GIL between torch calls; by default another thread waits up to
    # 5 ms for it, several times per request. 1 ms keeps hovers quick during a compression.
    sys.setswitchinterval(0.001)
    # Importing lsprotocol makes a thousand classes and the tokenizer a 200k-entry table: no
    # garbage among them, but enough allocations to run the collector dozens of times (20 % of
    # the start-up). It is frozen and enabled again once the session has started.
    gc.disable()
    # Build the default tokenizer while pygls and lsprotocol import: the first hover needs it.
    threading.Thread(target=_preload_tokenizer, name="lingua-preload", daemon=True).start()
    from .server import create_server

    server = create_server()
    from .client_log import install

    install(server, logging.getLogger().level)
    if args.tcp:
        server.start_tcp(*args.tcp)
    else:
        server.start_io()


if __name__ == "__main__":
    main()
