"""A small retrieval corpus for the framework adapters: five documents on unrelated subjects,
one of which answers the question, and a keyword embedding that ranks them without a model.

The embedding is a bag of words hashed into a few dimensions: deterministic, offline, and
good enough that a retriever puts the document sharing the question's words first, so the
scores the adapters must carry over differ from one document to the next.
"""

from __future__ import annotations

import math
import re
import string
import zlib

CORPUS: dict[str, str] = {
    "sourdough.md": (
        "Sourdough bread relies on a starter, a fermented mix of flour and water that hosts wild yeast and "
        "lactic acid bacteria. Bakers feed the starter daily, discarding part of it and adding fresh flour. A "
        "long, cool fermentation develops the sour flavour and an open crumb. The loaf is usually baked in a "
        "covered pot so that the steam keeps the crust soft during the first twenty minutes, after which the "
        "lid comes off and the crust browns."
    ),
    "harbor_bridge.md": (
        "The Keswick Harbor Bridge is a steel arch bridge that carries road and rail traffic across the harbor. "
        "Construction started in 1926 after a decade of debate about the cost. The bridge opened to traffic on "
        "14 March 1932, and the opening ceremony drew a crowd of about three hundred thousand people. Its main "
        "span is 503 metres long, and the deck stands 49 metres above the water, enough for ocean liners to "
        "pass underneath."
    ),
    "chess.md": (
        "In chess, the Sicilian Defence begins with the moves 1.e4 c5. Black fights for the centre from the side "
        "instead of mirroring White's pawn, which leads to unbalanced positions. Many world champions have "
        "played it as their main answer to the king's pawn opening. Popular branches include the Najdorf, the "
        "Dragon and the Sveshnikov, each with a large body of opening theory that players study for years."
    ),
    "volcano.md": (
        "Volcanic eruptions are classified with the Volcanic Explosivity Index, which runs from zero to eight. "
        "The index combines the volume of ejected material, the height of the eruption column and how long the "
        "eruption lasted. Each step on the scale marks a tenfold increase in erupted volume. Gentle effusive "
        "eruptions, such as those in Hawaii, score low, while the largest known eruptions reached the top of "
        "the scale."
    ),
    "tides.md": (
        "Ocean tides are caused mainly by the gravitational pull of the Moon, with a smaller contribution from "
        "the Sun. Most coasts see two high tides and two low tides each day. When the Sun and the Moon line up, "
        "at new and full moon, the tidal range is largest; these are called spring tides. Neap tides, with the "
        "smallest range, occur when the two bodies pull at right angles to each other."
    ),
}
QUESTION = "When did the Keswick Harbor Bridge open to traffic?"
ANSWER = "1932"
ANSWER_SOURCE = "harbor_bridge.md"
DIMENSIONS = 64


def keyword_vector(text: str) -> list[float]:
    """Words hashed into ``DIMENSIONS`` counts, normalised (cosine = dot product)."""
    vector = [0.0] * DIMENSIONS
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        vector[zlib.crc32(word.encode()) % DIMENSIONS] += 1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def comes_from(compressed: str, original: str) -> bool:
    """Every word of ``compressed`` is in ``original``: compression only removes text.

    The punctuation around a word is left out of the check: the assembly moves a kept
    sentence end next to the last kept word ("White's pawn." -> "White's.").
    """
    return all(piece.strip(string.punctuation) in original for piece in compressed.split())
