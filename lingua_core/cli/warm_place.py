"""Where the warm worker listens, and the checks that keep other people's sockets out.

A socket in a shared place could be planted by another user to collect prompts. So, as tmux
and ssh-agent do, the socket lives in a directory that must belong to this user and be
closed to everyone else; the socket itself must belong to this user; and where the system
tells the peer of a connection (Linux), each end checks that the other runs as this user.

The socket's name carries a digest of everything that can change the output: Lingua's own
code, the interpreter, and the environment variables the engine and its libraries read. A
worker started from other code or settings is never asked; a new one starts beside it, and
the old one exits when its idle time runs out.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import socket
import stat
import struct
import sys
import tempfile
from pathlib import Path

from lingua_core.errors import LinguaError

RUNTIME_ENV = "LINGUA_RUNTIME_DIR"
NO_DAEMON_ENV = "LINGUA_NO_DAEMON"
IDLE_ENV = "LINGUA_DAEMON_IDLE"
DEFAULT_IDLE_SECONDS = 300.0  # ollama keeps a model five minutes after the last request
MAX_SOCKET_PATH = 100  # sun_path holds 104-108 bytes depending on the system

# Environment that changes what the engine computes or where it reads models from. The
# worker's own switches are left out: they do not change an answer.
_KEYED_PREFIXES = ("LINGUA_", "HF_", "TRANSFORMERS_", "TORCH", "PYTORCH_", "CUDA_", "OMP_", "MKL_", "TOKENIZERS_")
_KEYED_NAMES = ("XDG_CACHE_HOME", "HOME", "PYTHONPATH")
# The command itself sets the libraries' chatter variables (terminal.configure_output), and
# differently on a terminal: keying them would split workers by where stderr goes.
_UNKEYED = {
    RUNTIME_ENV,
    NO_DAEMON_ENV,
    IDLE_ENV,
    "LINGUA_MODEL",
    "LINGUA_DEBUG",
    "HF_HUB_DISABLE_PROGRESS_BARS",
    "TRANSFORMERS_VERBOSITY",
    "TOKENIZERS_PARALLELISM",
}


class UnsafePlace(LinguaError):
    """The socket's directory or file could be someone else's: no worker is used."""


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def warm_allowed(args: argparse.Namespace) -> bool:
    """``--verbose`` runs here: the libraries' own messages it asks for print in this process."""
    if getattr(args, "no_daemon", False) or _truthy(os.environ.get(NO_DAEMON_ENV)):
        return False
    if getattr(args, "verbose", False):
        return False
    return os.name == "posix" and hasattr(socket, "AF_UNIX")


def idle_seconds() -> float:
    raw = os.environ.get(IDLE_ENV)
    try:
        value = float(raw) if raw else DEFAULT_IDLE_SECONDS
    except ValueError:
        return DEFAULT_IDLE_SECONDS
    return value if value > 0 else DEFAULT_IDLE_SECONDS


def runtime_dir() -> Path:
    """``$LINGUA_RUNTIME_DIR``, else ``$XDG_RUNTIME_DIR/lingua``, else ``/tmp/lingua-UID``."""
    explicit = os.environ.get(RUNTIME_ENV)
    if explicit:
        return Path(explicit).expanduser().absolute()
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isdir(xdg):
        return Path(xdg) / "lingua"
    return Path(tempfile.gettempdir()) / f"lingua-{os.getuid()}"


def private_dir(path: Path) -> Path:
    """Made 0700 when missing; an existing one must be a real directory, ours, closed to others."""
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700, parents=True)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafePlace(f"{path} is not a directory")
    if info.st_uid != os.getuid():
        raise UnsafePlace(f"{path} belongs to another user (uid {info.st_uid})")
    if info.st_mode & 0o077:
        raise UnsafePlace(f"{path} is open to other users (mode {stat.S_IMODE(info.st_mode):o})")
    return path


def check_socket_file(path: Path) -> bool:
    """False when nothing is there; raises when something there is not our socket."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    if not stat.S_ISSOCK(info.st_mode):
        raise UnsafePlace(f"{path} is not a socket")
    if info.st_uid != os.getuid():
        raise UnsafePlace(f"{path} belongs to another user (uid {info.st_uid})")
    return True


def peer_uid(conn: socket.socket) -> int | None:
    """The uid of the process at the other end, where the system says (Linux); else None."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return None
    raw = conn.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", raw)
    return int(uid)


def peer_is_us(conn: socket.socket) -> bool:
    uid = peer_uid(conn)
    return uid is None or uid == os.getuid()


def worker_key() -> str:
    """What a worker must share with a caller to give the same output."""
    digest = hashlib.sha256()
    digest.update(sys.executable.encode())
    package = Path(__file__).resolve().parents[1]
    for source in sorted(package.rglob("*.py")):
        digest.update(str(source.relative_to(package)).encode())
        digest.update(source.read_bytes())
    for name in sorted(os.environ):
        if name in _UNKEYED or not (name.startswith(_KEYED_PREFIXES) or name in _KEYED_NAMES):
            continue
        digest.update(f"\0{name}={os.environ[name]}".encode())
    return digest.hexdigest()[:16]


def socket_path(directory: Path, key: str) -> Path:
    return directory / f"worker-{key}.sock"
