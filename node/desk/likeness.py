"""How alike two reports' texts are, for the duplicates the desk suggests.

The node can only compare clear fields (its candidates route); the texts are
opened here, so the desk adds this: the Jaccard similarity of the two texts'
sets of words and word pairs, case and accents folded. It is crude on
purpose: it ranks a handful of candidates for a person to compare side by
side, it decides nothing.
"""

import itertools
import re
import unicodedata
from collections.abc import Iterable
from typing import Final

_WORD: Final = re.compile(r"\w{3,}")
# Worth showing to a moderator as a likely duplicate.
LIKELY: Final = 0.35


def _terms(text: str) -> set[str]:
    folded = unicodedata.normalize("NFKD", text.casefold())
    words = _WORD.findall("".join(c for c in folded if not unicodedata.combining(c)))
    return set(words) | {f"{a} {b}" for a, b in itertools.pairwise(words)}


def likeness(a: str, b: str) -> float:
    """From 0 (nothing in common) to 1 (the same words in the same pairs)."""
    first, second = _terms(a), _terms(b)
    if not first or not second:
        return 0.0
    return len(first & second) / len(first | second)


def most_alike(
    text: str, others: Iterable[tuple[str, str]], limit: int = 5
) -> list[tuple[str, float]]:
    """(id, likeness) of the ``others`` (id, text) most like ``text``, best first."""
    scored = [(other_id, likeness(text, other)) for other_id, other in others]
    return sorted((s for s in scored if s[1] > 0), key=lambda s: -s[1])[:limit]
