"""The warm worker behind `lingua compress`: real processes, a real socket, the embedded model.

What users rely on: a repeated call reuses the loaded model, the output is the one the
command gives in its own process (errors included), a killed worker or a stale socket costs
nothing, a place another user could control is never used, and the worker goes away when
idle. Progress shows under a terminal and nowhere else.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lingua_core.cli.warm_place import UnsafePlace, check_socket_file, private_dir, socket_path, worker_key

LINGUA = [sys.executable, "-m", "lingua_core.cli"]
PROMPT = Path(__file__).resolve().parents[2] / "scripts" / "sample_prompt.md"


def lingua(runtime: Path, *args: str, **env: str) -> subprocess.CompletedProcess[bytes]:
    environment = {**os.environ, "LINGUA_NO_DAEMON": "", "LINGUA_RUNTIME_DIR": str(runtime), **env}
    return subprocess.run([*LINGUA, *args], capture_output=True, timeout=300, env=environment, check=False)


def workers(runtime: Path) -> list[dict[str, Any]]:
    proc = lingua(runtime, "daemon", "status", "--json")
    assert proc.returncode == 0, proc.stderr.decode()
    found: list[dict[str, Any]] = json.loads(proc.stdout)["workers"]
    return found


def compress_json(runtime: Path, *extra: str, **env: str) -> dict[str, Any]:
    proc = lingua(runtime, "compress", str(PROMPT), "--rate", "0.33", "--json", *extra, **env)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stderr == b"", "success leaves stderr empty, worker or not"
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def _place() -> Iterator[Path]:
    """A short private place (socket paths hold about 100 bytes), its workers stopped after."""
    place = Path(tempfile.mkdtemp(prefix="lw-"))
    yield place
    place.chmod(0o700)
    lingua(place, "daemon", "stop")
    shutil.rmtree(place, ignore_errors=True)


runtime = pytest.fixture(scope="module")(_place)
fresh_place = pytest.fixture(_place)


@pytest.fixture(scope="module")
def cold() -> Iterator[tuple[dict[str, Any], Path]]:
    """The command's answer in its own process (``--no-daemon``), run once per module in a
    place of its own: the output a worker must give, and the place it must leave empty."""
    with contextlib.contextmanager(_place)() as place:
        yield compress_json(place, "--no-daemon"), place


def running_worker(runtime: Path) -> dict[str, Any]:
    """The worker serving ``runtime``: the one earlier tests left, else one a compression starts."""
    if not workers(runtime):
        compress_json(runtime)
    (worker,) = workers(runtime)
    return worker


def test_a_repeated_call_reuses_the_warm_model_and_gives_the_in_process_output(
    runtime: Path, cold: tuple[dict[str, Any], Path]
) -> None:
    first = compress_json(runtime)
    running = workers(runtime)
    assert len(running) == 1 and running[0]["model"] == "embedded"
    second = compress_json(runtime)
    assert workers(runtime)[0]["pid"] == running[0]["pid"], "the second call used the same worker"
    assert second["load_seconds"] < 0.05 < first["load_seconds"], "the model was loaded once"
    alone, _ = cold
    for key in ("compressed_prompt", "kept_spans", "origin_tokens", "compressed_tokens", "method", "model"):
        assert first[key] == second[key] == alone[key], key


def test_errors_read_as_they_do_in_process(runtime: Path, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    cases = [
        (["--preserve", "(unclosed"], 1),
        (["--model", str(missing)], 1),
        (["--method", "llmlingua2"], 1),
    ]
    for flags, code in cases:
        warm = lingua(runtime, "compress", str(PROMPT), *flags)
        alone = lingua(runtime, "compress", str(PROMPT), *flags, "--no-daemon")
        assert warm.returncode == alone.returncode == code, flags
        assert warm.stderr == alone.stderr, flags
        assert warm.stderr.decode().count("\n") == 1 and b"Traceback" not in warm.stderr
    assert len(workers(runtime)) == 1, "a failed request does not end the worker"


def test_garbage_on_the_socket_does_not_end_the_worker(runtime: Path) -> None:
    running = running_worker(runtime)
    for garbage in (b"not json\n", b"[1, 2]\n", b'{"op": "compress", "key": "wrong", "protocol": 1}\n', b""):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(running["socket"])
            conn.sendall(garbage)
            conn.shutdown(socket.SHUT_WR)
            conn.settimeout(10)
            answer = conn.recv(4096)
            assert b"result" not in answer
    assert [w["pid"] for w in workers(runtime)] == [running["pid"]]


def test_no_daemon_starts_no_worker(cold: tuple[dict[str, Any], Path]) -> None:
    alone, place = cold  # compressed there with --no-daemon
    assert compress_json(place, LINGUA_NO_DAEMON="1")["compressed_prompt"] == alone["compressed_prompt"]
    assert list(place.iterdir()) == []


@pytest.mark.parametrize("problem", ["open-directory", "not-a-socket"])
def test_a_place_others_could_control_is_not_used(problem: str, fresh_place: Path) -> None:
    place = fresh_place
    if problem == "open-directory":
        place.chmod(0o755)
        expected = "open to other users"
    else:
        sock = socket_path(place, worker_key())
        sock.write_text("planted")
        expected = "is not a socket"
    proc = lingua(place, "compress", str(PROMPT), "--rate", "0.33", "--json")
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["compressed_tokens"] > 0, "it still compresses, in its own process"
    (warning,) = proc.stderr.decode().splitlines()
    assert warning.startswith("lingua: warning:") and expected in warning
    assert workers(place) == [] if problem == "not-a-socket" else not list(place.glob("*.sock"))


@pytest.mark.skipif(os.getuid() != 0, reason="making a directory of another user needs root")
def test_a_directory_of_another_user_is_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir(mode=0o700)
    os.chown(foreign, 65534, 65534)
    with pytest.raises(UnsafePlace, match="another user"):
        private_dir(foreign)


def test_check_socket_file(tmp_path: Path, fresh_place: Path) -> None:
    assert check_socket_file(tmp_path / "missing.sock") is False
    (tmp_path / "file.sock").write_text("")
    with pytest.raises(UnsafePlace, match="not a socket"):
        check_socket_file(tmp_path / "file.sock")
    place = fresh_place
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(place / "s.sock"))
        assert check_socket_file(place / "s.sock") is True
    assert private_dir(place / "new") == place / "new"
    assert (place / "new").stat().st_mode & 0o777 == 0o700


def _under_terminal(runtime: Path, *args: str) -> tuple[int, str]:
    """Run with stderr on a pseudo-terminal (as in an interactive shell) and stdout piped."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("4H", 40, 100, 0, 0))  # a terminal has a size
    environment = {**os.environ, "LINGUA_NO_DAEMON": "", "LINGUA_RUNTIME_DIR": str(runtime)}
    proc = subprocess.Popen([*LINGUA, *args], stdout=subprocess.PIPE, stderr=slave, env=environment)
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break  # the terminal closed with the process
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    assert proc.stdout is not None
    proc.stdout.read()
    return proc.wait(timeout=60), seen.decode(errors="replace")


@pytest.mark.parametrize("where", ["worker", "in-process"])
def test_progress_shows_under_a_terminal(runtime: Path, where: str) -> None:
    flags = ["--no-daemon"] if where == "in-process" else []
    code, terminal = _under_terminal(runtime, "compress", str(PROMPT), "--rate", "0.33", *flags)
    assert code == 0, terminal
    assert "compressing" in terminal and "tok" in terminal, terminal
    assert "tokens (o200k_base)" in terminal, "the summary line"
    code, quiet = _under_terminal(runtime, "compress", str(PROMPT), "--rate", "0.33", "--no-progress", *flags)
    assert code == 0 and "compressing" not in quiet


# Last: it leaves no worker behind (the others reuse the one already warm).
def test_a_killed_worker_is_replaced_and_an_idle_one_exits(runtime: Path) -> None:
    killed = running_worker(runtime)
    os.kill(killed["pid"], signal.SIGKILL)
    time.sleep(0.2)
    assert Path(killed["socket"]).exists(), "a killed worker leaves its socket behind"
    data = compress_json(runtime, LINGUA_DAEMON_IDLE="2")
    assert data["compressed_tokens"] > 0
    (fresh,) = workers(runtime)
    assert fresh["pid"] != killed["pid"] and fresh["socket"] == killed["socket"]
    deadline = time.monotonic() + 30
    while Path(fresh["socket"]).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not Path(fresh["socket"]).exists(), "an idle worker exits and removes its socket"
    assert workers(runtime) == []
