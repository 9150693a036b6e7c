"""The hover card: what the file and the section under the cursor cost, and what compressing saves.

Everything here is arithmetic on token counts the caller already has; the model is never
consulted, so a hover answers in milliseconds even while a compression is running.
"""

from __future__ import annotations

from dataclasses import dataclass

from lingua_core.projection import projected_tokens

from .compressions import CachedRatio
from .documents import Section
from .settings import Settings

CALLS = 1000


@dataclass(frozen=True)
class HoverFacts:
    file_tokens: int
    section: Section | None
    section_tokens: int | None
    cached: CachedRatio | None
    cached_of: str = "section"  # or "paragraph": which text the cached compression was of
    # Tokens no compression drops (code, placeholders, facts); None while a big document's
    # first count runs (the hover does not wait for it).
    file_protected: int | None = 0
    section_protected: int | None = 0


def usd(value: float) -> str:
    """Dollars with as many decimals as a per-call price needs to not read as zero."""
    if value >= 1:
        return f"${value:,.2f}"
    if value >= 0.01:
        return f"${value:.4f}"
    return f"${value:.6f}"


def _row(label: str, tokens: int, protected: int | None, settings: Settings) -> str:
    price = settings.usd_per_million / 1_000_000
    if protected is None:
        return f"| {label} | {tokens:,} | {usd(tokens * price)} | … | … | … |"
    saved = tokens - projected_tokens(tokens, settings.rate, protected)
    return (
        f"| {label} | {tokens:,} | {usd(tokens * price)} | {saved:,} | {usd(saved * price)} | "
        f"{usd(saved * price * CALLS)} |"
    )


def _section_label(section: Section) -> str:
    title = section.title.replace("|", "\\|").replace("`", "'")
    if section.kind == "role":
        return f"Role `{title}:`"
    if section.kind == "heading":
        return f"Section {title}" if title else "Section"
    if section.kind == "front matter":
        return "Front matter"
    return "Paragraph"


def estimate_note(settings: Settings) -> list[str]:
    """For a target whose tokenizer Lingua cannot run (Claude, Gemini): say the counts are an
    estimate, before anyone budgets on them."""
    if settings.exact_counts:
        return []
    return [
        "",
        f"Counts are an estimate: {settings.target_model}'s own tokenizer is not available here, "
        f"{settings.encoding} stands in for it (set lingua.targetModel to an OpenAI model for exact counts).",
    ]


def render(facts: HoverFacts, settings: Settings, markdown: bool = True) -> str:
    """Markdown (or plain text) with every number the contract promises, in a fixed layout."""
    factor = 1 / settings.rate
    lines = [
        f"**Lingua** — {settings.target_model} ({settings.encoding}, "
        f"{usd(settings.usd_per_million)} per 1M input tokens)",
        *estimate_note(settings),
        "",
        f"| | tokens | cost per call | saved at {factor:.1f}x | saved per call | saved per {CALLS:,} calls |",
        "|---|---:|---:|---:|---:|---:|",
        _row("File", facts.file_tokens, facts.file_protected, settings),
    ]
    if facts.section is not None and facts.section_tokens is not None:
        lines.append(_row(_section_label(facts.section), facts.section_tokens, facts.section_protected, settings))
    notes = []
    if facts.file_protected is None or facts.section_protected is None:
        notes.append("Savings: still finding the protected text of this large document.")
    elif facts.file_tokens and facts.file_protected > round(facts.file_tokens * settings.rate):
        notes.append(
            f"{facts.file_protected:,} tokens of the file are protected (code, template fields, facts, "
            f"structure): it compresses to {facts.file_tokens / facts.file_protected:.1f}x at most."
        )
    if settings.context_window:
        share = facts.file_tokens / settings.context_window
        notes.append(f"File uses {share:.1%} of the {settings.context_window:,}-token context window.")
    if facts.file_tokens > settings.token_budget:
        notes.append(f"Over the token budget of {settings.token_budget:,}.")
    if facts.cached is not None:
        cached = facts.cached
        part = facts.cached_of
        what = f"This {part} is a compression's output" if cached.is_output else f"Last compression of this {part}"
        notes.append(
            f"{what}: {cached.ratio:.2f}x ({cached.origin_tokens:,} -> {cached.compressed_tokens:,} tokens, "
            f"{cached.method})."
        )
    lines += ["", *notes]
    text = "\n".join(lines).rstrip()
    if markdown:
        return text
    return text.replace("**", "").replace("|---|---:|---:|---:|---:|---:|\n", "")
