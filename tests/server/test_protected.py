"""Protected-token figures of the hover on big documents: never a long wait, and right once known.

Before, the hover counted a big file's protected text on the spot, about 1.5 s per megabyte
on every new version (34 s for the first hover on a 12 MB file); now it answers at once and
fills the figures in when the count is done.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from server.protected import INLINE_CHARS, units
from tests.server.conftest import PROMPTS, hover_rows, session


def test_units_cover_the_text_and_never_cut_a_fence_or_front_matter() -> None:
    fence = "```python\nx = 1\n\ny = 2\n```\n"
    front = "---\nname: x\n\ndescription: y\n---\n"
    paragraphs = "".join(f"Paragraph {i} says something.\n\n" for i in range(4000))
    text = front + paragraphs + fence + paragraphs + fence
    pieces = units(text)
    assert "".join(pieces) == text
    assert len(pieces) > 2
    assert pieces[0].startswith(front)
    for piece in pieces:
        assert piece.count("```") % 2 == 0, "a fence and its close stay in one unit"


def _big_prompt() -> str:
    parts = [p.read_text(encoding="utf-8") for p in sorted((PROMPTS / "awesome-copilot").glob("*.md"))]
    text, i = "", 0
    while len(text) < 1_500_000:
        text += f"## Part {i}\n\n" + parts[i % len(parts)].replace("---", "- - -") + "\n\n"
        i += 1
    return text


async def test_a_big_file_is_hovered_at_once_and_its_savings_follow(tmp_path: Path) -> None:
    folder = tmp_path / "prompts"
    folder.mkdir()
    text = _big_prompt()
    assert len(text) > 20 * INLINE_CHARS
    async with session(root=tmp_path) as editor:
        uri = editor.open(folder / "big.prompt.md", text)
        first = await editor.hover(uri, len(text) // 2)
        assert first is not None
        value = first.contents.value  # type: ignore[union-attr]
        assert hover_rows(value)["File"][0] > 0, "token counts never wait"
        assert re.search(r"^\| File \| [\d,]+ \| \$[\d.]+ \| … \|", value, re.MULTILINE), value
        assert "still finding the protected text" in value
        for _ in range(240):  # the count runs in the background; the next hovers show it
            await asyncio.sleep(0.5)
            later = (await editor.hover(uri, len(text) // 2)).contents.value  # type: ignore[union-attr]
            if "still finding" not in later:
                break
        assert "still finding" not in later
        assert re.search(r"^\| File \| [\d,]+ \| \$[\d.]+ \| [\d,]+ \|", later, re.MULTILINE), later
