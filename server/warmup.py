"""Loading the model before anyone asks, once a prompt file is open (``lingua.warmUp``).

A cold model costs 10-20 s (torch, transformers, the weights); paid by the first compression,
that is a long wait for a user who only asked for a quick 3x. Someone who opens a prompt file
is likely to compress it, so the model thread loads the model then, in the background, and a
compression that comes meanwhile queues behind the load instead of loading again. The load
shows as server-created ``$/progress`` (VS Code puts it in the status bar; any LSP client can
show it), since nobody asked for it and a pop-up would be in the way.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Protocol

from lsprotocol import types
from pygls.progress import Progress

from .settings import Settings
from .worker import ModelLoadError, ModelWorker


class WarmingServer(Protocol):
    """What a warm-up needs of the server (the server's state imports this module)."""

    settings: Settings
    worker: ModelWorker

    @property
    def work_done_progress(self) -> Progress: ...

    @property
    def supports_work_done_progress(self) -> bool: ...


log = logging.getLogger(__name__)

# After the open: the editor asks for the file's count, hover and diagnostics right away, and
# importing torch holds the GIL for long stretches (loading libtorch alone takes most of a
# second), so the load starts once those are answered.
WARM_UP_DELAY = 1.5


class WarmUp:
    """Starts at most one background load at a time, on the model thread."""

    def __init__(self, server: WarmingServer) -> None:
        self._server = server
        self._timer: asyncio.TimerHandle | None = None
        self._running: asyncio.Task[None] | None = None

    def schedule(self) -> None:
        """Load soon, if the setting allows and the model is not there (or known to fail)."""
        if not self._server.settings.warm_up or self._timer is not None:
            return
        if self._running is not None and not self._running.done():
            return
        if not self._server.worker.needs_load():
            return
        self._timer = asyncio.get_running_loop().call_later(WARM_UP_DELAY, self._start)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _start(self) -> None:
        self._timer = None
        self._running = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        server = self._server
        if not server.settings.warm_up or not server.worker.needs_load():
            return
        model = server.settings.model
        token = await self._begin(model)
        started = time.monotonic()
        outcome = "Failed"
        try:
            loaded = await asyncio.wrap_future(server.worker.warm_up())
            status = server.worker.status
            outcome = f"{model} ready on {status.device} in {time.monotonic() - started:.1f} s" if loaded else "Ready"
        except ModelLoadError:
            pass  # the failure is announced with its fix by the model status (one message per model)
        except Exception:
            log.exception("warming the model up failed")
        finally:
            if token is not None:
                server.work_done_progress.end(token, types.WorkDoneProgressEnd(message=outcome))

    async def _begin(self, model: str) -> str | None:
        """A progress of the server's own making; None when the client has no progress bars."""
        server = self._server
        if not server.supports_work_done_progress:
            return None
        token = f"lingua-warm-up-{uuid.uuid4()}"
        try:
            await server.work_done_progress.create_async(token)
        except Exception as exc:  # the client may refuse: the load goes on without a bar
            log.info("no progress bar for the warm-up: %s", exc)
            return None
        begin = types.WorkDoneProgressBegin(title="Lingua: loading the model", message=model, cancellable=False)
        server.work_done_progress.begin(token, begin)
        return token
