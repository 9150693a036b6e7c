"""What ``pip install`` puts into site-packages: the engine and the server as ``lingua_server``.

A top-level package named ``server`` would collide with any other project's; the folder stays
``server/`` (the extension runs ``python -m server`` from its own folder), so the wheel maps it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_installs_lingua_server_beside_another_server_package(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__")
    for folder in ("lingua_core", "server"):
        shutil.copytree(ROOT / folder, source / folder, ignore=ignore)
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            str(source),
            "-w",
            str(wheels),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    # setuptools announces what will stop building (the license table did, for 2027-02-18).
    assert "deprecat" not in (build.stdout + build.stderr).lower(), build.stderr
    (wheel,) = wheels.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/", 1)[0] for name in archive.namelist()}
        site = tmp_path / "site"
        archive.extractall(site)
    assert {"lingua_core", "lingua_server"} <= tops
    assert "server" not in tops

    # Another project's `server` package, first on the path: Lingua's server must not see it.
    other = tmp_path / "other" / "server"
    other.mkdir(parents=True)
    (other / "__init__.py").write_text("raise ImportError('this is another project\\'s server package')\n")
    done = subprocess.run(
        [sys.executable, "-c", "import lingua_server.server as s; print(s.create_server().name)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": f"{other.parent}:{site}", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "lingua"


@pytest.mark.parametrize("module", ["lingua_core.some_module", "server.handlers"])
def test_a_deprecation_that_lingua_sets_off_fails_the_tests(module: str) -> None:
    # pyproject's filterwarnings: a warning attributed to Lingua's code (as a library's
    # deprecation is, with its stacklevel pointing at the caller) is an error in the suite.
    code = compile("import warnings\nwarnings.warn('going away', DeprecationWarning)", f"<{module}>", "exec")
    with pytest.raises(DeprecationWarning, match="going away"):
        exec(code, {"__name__": module})


def test_a_library_deprecation_of_its_own_is_left_to_it() -> None:
    code = compile("import warnings\nwarnings.warn('going away', DeprecationWarning)", "<lib>", "exec")
    with pytest.warns(DeprecationWarning, match="going away"):
        exec(code, {"__name__": "somelibrary.internal"})
