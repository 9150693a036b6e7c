"""Multi-word names as one unit: "James W. Marshall" is kept or dropped whole.

Word-level compression already keeps each word whole, but a name spread over several words
can still lose one of them: "~~James~~ W. Marshall" answers "who found gold at Sutter's
Mill?" wrongly, and "New ~~York~~ Times" names nothing. A small LM finds a first name hard
to predict and a surname easy given it (or the reverse), so their scores differ and the cut
often falls inside. Units make the words of a name share one verdict and one score.

A name is a run of two to five capitalized words on one line, separated by single spaces,
with initials ("W.") and a few lowercase particles inside ("Leonardo da Vinci", "Bank of
America"). Function words that open a sentence ("The", "In") do not start one. Longer
capitalized runs are Title Case headings or shouting, not names, and are left alone.
English-centred by design: in scripts without case nothing is grouped, and an unrecognized
name only means the old behaviour.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from lingua_core.words import Words

__all__ = ["name_groups", "unite_names"]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

MAX_NAME_WORDS = 5
# Lowercase words that sit inside names, between two capitalized ones.
_PARTICLES = frozenset(
    "of de da del della di du van von der den la le bin ibn al el y zu ten ter dos das".split()  # noqa: SIM905
)
# Capitalized only because a sentence or a heading starts with them, or always capitalized
# but not part of a name after them ("In March Yuki Fischer restored ...").
_OPENERS = frozenset(
    """
    a an the this that these those there then thus so and or but if when while where which who
    what why how in on at by for from to with without after before during as of is are was
    were be it its he she they we you i my our your his her their
    january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday
    """.split()  # noqa: SIM905
)


def _capitalized(word: str) -> bool:
    return len(word) > 0 and word[0].isupper() and any(ch.isalpha() for ch in word)


def name_groups(words: Words) -> IntArray:
    """A group id per word (words of one name share it), -1 for words outside any name."""
    count = len(words)
    groups = np.full(count, -1, dtype=np.int64)
    text = words.text
    starts, ends = words.starts.tolist(), words.ends.tolist()

    def word(i: int) -> str:
        return text[starts[i] : ends[i]]

    def gap(i: int) -> str:
        """The characters between word i and word i + 1."""
        return text[ends[i] : starts[i + 1]]

    next_group = 0
    i = 0
    while i < count:
        if not _capitalized(word(i)) or word(i).lower() in _OPENERS:
            i += 1
            continue
        members = [i]
        j = i
        while j + 1 < count:
            following = word(j + 1)
            if following == "." and gap(j) == "" and len(word(j)) == 1:
                members.append(j + 1)  # the period of an initial: "W."
                j += 1
                continue
            if gap(j) != " ":
                break
            if _capitalized(following) and following.lower() not in _OPENERS:
                members.append(j + 1)
                j += 1
                continue
            if (
                following in _PARTICLES
                and j + 2 < count
                and gap(j + 1) == " "
                and _capitalized(word(j + 2))
                and word(j + 2).lower() not in _OPENERS
            ):
                members.extend((j + 1, j + 2))
                j += 2
                continue
            break
        names = sum(1 for m in members if _capitalized(word(m)))
        if 2 <= names <= MAX_NAME_WORDS:
            groups[members] = next_group
            next_group += 1
        i = j + 1
    return groups


def unite_names(
    groups: IntArray, keep: BoolArray, scores: FloatArray, fixed: BoolArray
) -> tuple[BoolArray, FloatArray]:
    """Keep and scores with each name decided as one: kept if its best word was, scored by it.

    ``groups`` as :func:`name_groups` gives them.

    A name with a protected word is kept whole. A name that a coarse step dropped in part
    (a score of -inf on some of its words: a sentence or record boundary inside it) is left
    as it was, so that nothing dropped comes back.
    """
    inside = groups >= 0
    if not inside.any():
        return keep, scores
    count = int(groups.max()) + 1
    index = groups[inside]
    group_keep = np.zeros(count, dtype=bool)
    np.logical_or.at(group_keep, index, (keep | fixed)[inside])
    group_score = np.full(count, -np.inf)
    np.maximum.at(group_score, index, scores[inside])
    group_lowest = np.full(count, np.inf)
    np.minimum.at(group_lowest, index, scores[inside])
    whole = group_lowest > -np.inf
    united = inside.copy()
    united[inside] = whole[index]
    index = groups[united]
    keep = keep.copy()
    scores = scores.copy()
    keep[united] = group_keep[index]
    scores[united] = group_score[index]
    return keep, scores
