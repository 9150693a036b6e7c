"""The ``lingua.*`` settings: one typed, validated snapshot the handlers can trust.

Clients send whatever the user typed into a JSON settings file. Rather than let a bad value
reach the tokenizer or the model (and fail later, far from its cause), each key is checked
here once; a bad value falls back to its default and is reported, so the server keeps working
and the user learns what to fix in one message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, NamedTuple

from lingua_core.methods.base import Method
from lingua_core.relevance import RankMethod

if TYPE_CHECKING:
    from lingua_core.protect import ProtectOptions

DEFAULT_PROMPT_FILES: tuple[str, ...] = (
    "**/*.prompt",
    "**/*.prompt.md",
    "**/*.prompty",
    "**/*.jinja2",
    "**/*.j2",
    "**/prompts/**/*.md",
    "**/prompts/**/*.txt",
)
DEVICES = ("auto", "cpu", "cuda", "mps")
# The engine's own lists (light imports: no torch), so a new method needs no edit here.
METHODS = tuple(m.value for m in Method)
RANK_METHODS = tuple(m.value for m in RankMethod)


@dataclass(frozen=True)
class Settings:
    """Field names are the protocol's keys in snake_case (``tokenBudget`` -> ``token_budget``)."""

    model: str = "embedded"
    device: str = "auto"
    method: str = "auto"
    rank_method: str = "fused"
    rate: float = 0.33
    target_model: str = "gpt-4o"
    token_budget: int = 4000
    prompt_files: tuple[str, ...] = DEFAULT_PROMPT_FILES
    preserve: tuple[str, ...] = ()
    keep_code_blocks: bool = True
    unprotect: tuple[str, ...] = ()
    python: str = ""
    warm_up: bool = True  # load the model in the background once a prompt file is open
    # Derived from target_model (see ``with_target``), so handlers never look prices up again.
    encoding: str = field(default="o200k_base", compare=False)
    usd_per_million: float = field(default=2.50, compare=False)
    context_window: int | None = field(default=128_000, compare=False)
    exact_counts: bool = field(default=True, compare=False)  # False: the encoding stands in for the model's own


class Problem(NamedTuple):
    """An invalid value and the setting it belongs to: the message's "Open Settings" button
    goes to that key."""

    setting: str  # "lingua.rate"
    text: str


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


_KEYS = {_camel(f.name): f.name for f in fields(Settings) if f.compare}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check(key: str, value: Any) -> tuple[Any, str | None]:
    """The parsed value, or None and why it was refused."""
    if key in ("model", "targetModel"):
        if isinstance(value, str) and value.strip():
            return value.strip(), None
        return None, "a non-empty string"
    if key == "python":
        return (value, None) if isinstance(value, str) else (None, "a string")
    if key == "device":
        device = value.strip().lower() if isinstance(value, str) else None
        ok = device in DEVICES or (device or "").startswith("cuda:")
        return (device, None) if ok else (None, "one of " + ", ".join(DEVICES))
    if key == "method":
        method = value.strip().lower() if isinstance(value, str) else None
        return (method, None) if method in METHODS else (None, "one of " + ", ".join(METHODS))
    if key == "rankMethod":
        rank = value.strip().lower() if isinstance(value, str) else None
        return (rank, None) if rank in RANK_METHODS else (None, "one of " + ", ".join(RANK_METHODS))
    if key == "rate":
        if _is_number(value) and 0.0 < float(value) <= 1.0:
            return float(value), None
        return None, "a number in (0, 1], the share of tokens kept"
    if key == "tokenBudget":
        if _is_number(value) and float(value).is_integer() and value >= 1:
            return int(value), None
        return None, "a whole number of tokens, at least 1"
    if key in ("promptFiles", "preserve"):
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            return None, "a list of strings"
        if key == "preserve":
            for pattern in value:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    return None, f"valid regular expressions ({pattern!r}: {exc})"
        return tuple(value), None
    if key in ("keepCodeBlocks", "warmUp"):
        return (value, None) if isinstance(value, bool) else (None, "true or false")
    if key == "unprotect":
        from lingua_core.protect import PROTECTION_KINDS

        if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v in PROTECTION_KINDS for v in value):
            return None, "a list of: " + ", ".join(PROTECTION_KINDS)
        return tuple(value), None
    raise AssertionError(key)


def parse_settings(raw: Any) -> tuple[Settings, list[Problem]]:
    """Settings from the client's ``lingua`` object, and the problems found (empty when all is well).

    Unknown keys are ignored (a newer client may send more); ``None`` means "use the default",
    as VS Code sends for a setting the user never touched.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        return with_target(Settings()), [
            Problem("lingua", f"the lingua settings must be an object, not {type(raw).__name__}")
        ]
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for key, name in _KEYS.items():
        value = raw.get(key)
        if value is None:
            continue
        parsed, expected = _check(key, value)
        if expected is not None:
            problems.append(Problem(f"lingua.{key}", f"lingua.{key} must be {expected}; got {value!r}"))
        else:
            values[name] = parsed
    method_problem = _method_fits_model(values.get("method", Settings.method), values.get("model", Settings.model))
    if method_problem:
        problems.append(Problem("lingua.method", method_problem))
        values.pop("method")
    settings, problem = _resolve_target(Settings(**values))
    if problem:
        problems.append(Problem("lingua.targetModel", problem))
    return settings, problems


def _method_fits_model(method: str, model: str) -> str | None:
    """A method the model cannot run, refused when the setting changes rather than at the
    first compression (LLMLingua-2 needs a token classifier, the others a causal LM)."""
    from lingua_core.models import ModelKind, declared_kind

    kind = declared_kind(model)
    if kind is None or method == "auto":
        return None
    if method == "llmlingua2" and kind is ModelKind.CAUSAL_LM:
        return (
            f"lingua.method 'llmlingua2' needs a token-classification model, and lingua.model {model!r} "
            "is a causal LM (use llmlingua, longllmlingua or auto with it)"
        )
    if method != "llmlingua2" and kind is ModelKind.TOKEN_CLASSIFIER:
        return (
            f"lingua.method {method!r} needs a causal LM, and lingua.model {model!r} is a token classifier "
            "(use llmlingua2 or auto with it)"
        )
    return None


def _resolve_target(settings: Settings) -> tuple[Settings, str | None]:
    from lingua_core.errors import InputError
    from lingua_core.pricing import lookup

    try:
        lookup(settings.target_model)
    except InputError as exc:
        return with_target(Settings(**{**_plain(settings), "target_model": Settings.target_model})), (
            f"lingua.targetModel: {exc}"
        )
    return with_target(settings), None


def _plain(settings: Settings) -> dict[str, Any]:
    return {f.name: getattr(settings, f.name) for f in fields(Settings) if f.compare}


def with_target(settings: Settings) -> Settings:
    """Fill the encoding, price and context window of the target model in."""
    from lingua_core.pricing import lookup

    pricing = lookup(settings.target_model)
    return Settings(
        **_plain(settings),
        encoding=pricing.encoding,
        usd_per_million=pricing.usd_per_million_input,
        context_window=pricing.context_window,
        exact_counts=pricing.exact_counts,
    )


def problems_message(problems: list[Problem]) -> str:
    """One message for all problems, so a bad settings file does not bury the user in pop-ups."""
    return "Lingua: ignoring invalid settings, using defaults for them: " + "; ".join(p.text for p in problems) + "."


def protect_options(keep_code_blocks: bool, preserve: tuple[str, ...], unprotect: tuple[str, ...]) -> ProtectOptions:
    """The engine's protection from the ``keepCodeBlocks``, ``preserve`` and ``unprotect``
    settings: one place, so that hovers project with what compressions will protect."""
    from lingua_core.protect import ProtectOptions

    return ProtectOptions(keep_code_blocks=keep_code_blocks, patterns=preserve).without(unprotect)
