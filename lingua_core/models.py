"""Turn a model spec into a loaded model, tokenizer, device and dtype.

A spec is what a user types in a setting or on the command line: ``embedded``, a local
folder, a ``.gguf`` file, or a Hugging Face hub id. The compression method follows from the
model's *architecture* (causal LM or token classifier), never from its name, so a renamed
local copy of a checkpoint behaves exactly like the original.

Loading is offline by default: prompts are private and the product must not reach out to a
hub unless the user asked for it (``allow_download=True`` / ``LINGUA_ALLOW_DOWNLOAD=1``).
"""

from __future__ import annotations

import enum
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lingua_core.embedded import convert_gguf, embedded_model_dir
from lingua_core.errors import DeviceError, ModelError

EMBEDDED = "embedded"


class ModelKind(enum.Enum):
    """What a model can do, which decides the compression method."""

    CAUSAL_LM = "causal_lm"
    TOKEN_CLASSIFIER = "token_classifier"


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to score tokens, with everything the methods need to know about it."""

    spec: str
    name: str
    kind: ModelKind
    model: Any  # transformers.PreTrainedModel; Any keeps torch out of type-checking imports
    tokenizer: Any  # transformers.PreTrainedTokenizerFast
    device: Any  # torch.device
    dtype: Any  # torch.dtype
    max_positions: int


def resolve_device(device: str = "auto") -> Any:
    """CUDA first, then Apple's MPS, then the CPU: the user's fastest hardware by default."""
    import torch

    if device and device != "auto":
        try:
            resolved = torch.device(device)
        except (RuntimeError, ValueError) as exc:
            raise DeviceError(f"Unknown device {device!r}: use auto, cpu, cuda, cuda:N or mps.") from exc
        if resolved.type == "cuda" and not torch.cuda.is_available():
            raise DeviceError(f"Device {device!r} was asked for, but no CUDA GPU is available here.")
        if resolved.type == "mps" and not torch.backends.mps.is_available():
            raise DeviceError(f"Device {device!r} was asked for, but MPS is not available here.")
        return resolved
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


_DTYPE_NAMES = {
    "bf16": "bfloat16",
    "bfloat16": "bfloat16",
    "fp16": "float16",
    "float16": "float16",
    "half": "float16",
    "fp32": "float32",
    "float32": "float32",
    "float": "float32",
}


def cpu_supports_bf16() -> bool:
    """bf16 halves CPU time only where oneDNN has native kernels (AVX512-BF16 / AMX)."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_dtype(dtype: Any = "auto", device: Any = None) -> Any:
    """bf16 where the hardware computes it natively, else the safe float32."""
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype and dtype != "auto":
        name = _DTYPE_NAMES.get(str(dtype).lower())
        if name is None:
            raise ModelError(f"Unknown dtype {dtype!r}: use auto, bf16, fp16 or fp32.")
        return getattr(torch, name)
    device = device if device is not None else resolve_device("auto")
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "mps":
        return torch.float16
    return torch.bfloat16 if cpu_supports_bf16() else torch.float32


def _kind_of_architectures(architectures: list[Any]) -> ModelKind | None:
    """The kind the checkpoint's ``architectures`` name, by their class-name suffix."""
    if any(str(arch).endswith("ForTokenClassification") for arch in architectures):
        return ModelKind.TOKEN_CLASSIFIER
    if any(str(arch).endswith(("ForCausalLM", "LMHeadModel")) for arch in architectures):
        return ModelKind.CAUSAL_LM
    return None


def model_kind(config: Any) -> ModelKind:
    """Decide the method from the architecture the checkpoint declares."""
    architectures = list(getattr(config, "architectures", None) or [])
    declared = _kind_of_architectures(architectures)
    if declared is not None:
        return declared
    # No architectures recorded (some hand-made configs): fall back on the model type's
    # registration in transformers' auto classes, still independent of the name.
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES,
    )

    model_type = getattr(config, "model_type", None)
    if architectures == [] and model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and getattr(config, "is_decoder", True):
        return ModelKind.CAUSAL_LM
    if model_type in MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES and getattr(config, "num_labels", 0) == 2:
        return ModelKind.TOKEN_CLASSIFIER
    raise ModelError(
        f"The model declares architectures {architectures or '(none)'}; Lingua needs a causal LM "
        "(LLMLingua, LongLLMLingua) or a 2-label token classifier (LLMLingua-2)."
    )


def declared_kind(spec: str) -> ModelKind | None:
    """What a model spec is, read without loading anything (no torch): the embedded model, a
    ``.gguf`` file (causal LMs only) or a local folder's ``config.json``; None for a hub id or
    anything that cannot be told this way. Lets a settings change be checked as it is made.
    """
    spec = (spec or "").strip()
    if spec == EMBEDDED or spec.lower().endswith(".gguf"):
        return ModelKind.CAUSAL_LM
    config = Path(spec).expanduser() / "config.json"
    try:
        architectures = json.loads(config.read_text(encoding="utf-8")).get("architectures") or []
    except (OSError, ValueError, AttributeError):
        return None
    return _kind_of_architectures(list(architectures))


def allow_download_default() -> bool:
    return os.environ.get("LINGUA_ALLOW_DOWNLOAD", "").lower() in {"1", "true", "yes"}


def resolve_spec(spec: str, allow_download: bool = False) -> tuple[str, dict[str, Any]]:
    """Map a spec to what ``from_pretrained`` takes: a folder or hub id, plus extra kwargs."""
    spec = (spec or "").strip()
    if not spec:
        raise ModelError("No model given: use 'embedded', a local folder, a .gguf file or a hub id.")
    if spec == EMBEDDED:
        return str(embedded_model_dir()), {"local_files_only": True}
    path = Path(spec).expanduser()
    if path.suffix.lower() == ".gguf":
        if not path.is_file():
            raise ModelError(f"GGUF file {spec!r} does not exist.")
        return str(convert_gguf(path)), {"local_files_only": True}
    looks_like_path = spec.startswith((".", "/", "~")) or "\\" in spec or spec.count("/") > 1
    if path.exists() or looks_like_path:
        if not path.is_dir():
            raise ModelError(f"Model folder {spec!r} does not exist.")
        if not (path / "config.json").is_file():
            raise ModelError(f"Model folder {spec!r} has no config.json: it is not a transformers model.")
        return str(path), {"local_files_only": True}
    # A hub id ("org/name"): only from the local cache unless downloads are allowed.
    return spec, {"local_files_only": not allow_download}


def hub_missing_message(spec: str) -> str:
    return (
        f"Model {spec!r} is not in the local Hugging Face cache and downloads are off "
        f"(prompts stay on this machine). Fetch it once with `hf download {spec}` "
        f"(or `huggingface-cli download {spec}`), point the setting at a local folder, "
        "or allow downloads with LINGUA_ALLOW_DOWNLOAD=1."
    )


BACKEND_ENV = "LINGUA_BACKEND"
BACKENDS = ("auto", "native", "transformers")


def resolve_backend(backend: str | None) -> str:
    """``auto`` runs a plain Llama folder natively and everything else through transformers."""
    chosen = (backend or os.environ.get(BACKEND_ENV) or "auto").strip().lower()
    if chosen not in BACKENDS:
        raise ModelError(f"Unknown backend {chosen!r}: use {', '.join(BACKENDS)} ({BACKEND_ENV}).")
    return chosen


def load_model(
    spec: str = EMBEDDED,
    device: str | Any = "auto",
    dtype: Any = "auto",
    allow_download: bool | None = None,
    backend: str | None = None,
) -> LoadedModel:
    """Load once; callers keep the result (the Compressor and the server do).

    ``backend`` (default ``LINGUA_BACKEND``, else ``auto``): ``native`` runs a Llama folder on
    plain torch (seconds faster to start; :mod:`lingua_core.native`), ``transformers`` loads
    any architecture and is what training needs; ``auto`` takes the native runner whenever
    it computes the folder's model exactly.
    """
    import torch

    chosen = resolve_backend(backend)
    if allow_download is None:
        allow_download = allow_download_default()
    source, kwargs = resolve_spec(spec, allow_download)
    torch_device = device if isinstance(device, torch.device) else resolve_device(device)
    torch_dtype = resolve_dtype(dtype, torch_device)
    if chosen != "transformers":
        native = _load_native(spec, source, torch_device, torch_dtype, required=chosen == "native")
        if native is not None:
            return native
    return _load_transformers(spec, source, kwargs, torch_device, torch_dtype)


def _display_name(spec: str) -> str:
    return "SmolLM2-135M-Instruct (embedded)" if spec == EMBEDDED else spec


def _load_native(spec: str, source: str, device: Any, dtype: Any, required: bool) -> LoadedModel | None:
    """The native runner for a local folder it computes exactly; None to go through transformers."""
    from lingua_core.native.loading import NotNative, load_native

    folder = Path(source)
    if not folder.is_dir():
        if required:
            raise ModelError(f"The native backend runs local model folders only; {spec!r} is not one.")
        return None
    try:
        model, tokenizer = load_native(folder, device, dtype)
    except NotNative as exc:
        if required:
            raise ModelError(f"The native backend cannot run {spec!r}: {exc}. Use backend 'transformers'.") from exc
        return None
    except (OSError, ValueError, RuntimeError) as exc:
        raise ModelError(f"Cannot load model {spec!r}: {exc}") from exc
    max_positions = int(getattr(model.config, "max_position_embeddings", None) or tokenizer.model_max_length)
    return LoadedModel(
        spec, _display_name(spec), ModelKind.CAUSAL_LM, model, tokenizer, device, dtype, min(max_positions, 1 << 20)
    )


def _load_transformers(
    spec: str, source: str, kwargs: dict[str, Any], torch_device: Any, torch_dtype: Any
) -> LoadedModel:
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForTokenClassification, AutoTokenizer

    common = {**kwargs, "trust_remote_code": False}
    try:
        config = AutoConfig.from_pretrained(source, **common)
    except OSError as exc:
        if common.get("local_files_only") and "/" in spec and not Path(spec).expanduser().exists():
            raise ModelError(hub_missing_message(spec)) from exc
        raise ModelError(f"Cannot read the model config of {spec!r}: {exc}") from exc
    except ValueError as exc:
        if "trust_remote_code" in str(exc):
            raise ModelError(
                f"Model {spec!r} needs its own Python code to load (an auto_map in config.json); "
                "Lingua never runs code from a model. Use a model whose architecture transformers knows."
            ) from exc
        raise ModelError(f"Cannot use model {spec!r}: {exc}") from exc
    kind = model_kind(config)
    model_class = AutoModelForTokenClassification if kind is ModelKind.TOKEN_CLASSIFIER else AutoModelForCausalLM
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **common)
        model = model_class.from_pretrained(source, dtype=torch_dtype, use_safetensors=True, **common)
    except (OSError, ValueError) as exc:
        if "safetensors" in str(exc).lower():
            raise ModelError(
                f"Model {spec!r} has no safetensors weights; Lingua loads only safetensors "
                "(pickled .bin weights can run code). Convert it with `save_pretrained`."
            ) from exc
        raise ModelError(f"Cannot load model {spec!r}: {exc}") from exc
    if not getattr(tokenizer, "is_fast", False):
        raise ModelError(f"Model {spec!r} has no fast tokenizer (tokenizer.json); Lingua needs character offsets.")
    model = model.to(torch_device)
    model.eval()
    max_positions = int(
        getattr(config, "max_position_embeddings", None) or getattr(tokenizer, "model_max_length", 2048) or 2048
    )
    return LoadedModel(
        spec, _display_name(spec), kind, model, tokenizer, torch_device, torch_dtype, min(max_positions, 1 << 20)
    )
