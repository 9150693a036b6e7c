"""Reading a file a user named, with one line they can act on when it cannot be read.

Every command that takes a file (a prompt, sources to distill, instructions, pairs, a
dataset) meets the same mistakes: a wrong path, a folder, a binary file. Python's own
exceptions say those with a traceback and errno names; the user should see the same
sentence whichever command they ran.
"""

from __future__ import annotations

from pathlib import Path

from lingua_core.errors import InputError


def read_bytes(path: Path | str, what: str = "file", *, folder_hint: bool = False) -> bytes:
    """``what`` names the file as the command's help does ("pairs file", "dataset").

    ``folder_hint``: for commands that take several files, where a folder given by mistake
    is best answered with how to pass its files instead.
    """
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(f"No such {what}: {path}") from None
    except IsADirectoryError:
        article = "an" if what[:1].lower() in "aeiou" else "a"
        hint = f"; pass its files (e.g. {path}/*.txt)" if folder_hint else ""
        raise InputError(f"{path} is a directory, not {article} {what}{hint}.") from None
    except OSError as exc:
        raise InputError(f"Cannot read {path}: {exc.strerror}") from None


def decode_utf8(raw: bytes, name: Path | str) -> str:
    """Strict: a prompt silently patched with replacement characters would be compressed as garbage."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name} is not valid UTF-8 (byte {exc.start}): is it a text file?") from None


def read_text(path: Path | str, what: str = "file", *, folder_hint: bool = False) -> str:
    """Newlines read as ``open`` reads them ("\\r\\n" and "\\r" become "\\n"), so a file edited on
    Windows chunks, hashes and splits into lines as the same file saved on Linux does."""
    text = decode_utf8(read_bytes(path, what, folder_hint=folder_hint), path)
    return text.replace("\r\n", "\n").replace("\r", "\n")
