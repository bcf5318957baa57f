"""Name search that ignores case, diacritics and script (Latin/Cyrillic).

Every name is reduced to two keys: ``normalise`` (casefolded, diacritics
stripped, Cyrillic transliterated) and ``skeleton`` (``normalise`` with the
spelling differences between transliteration schemes folded away, so that
Дзівін, Дивин, Dzivin and Divin meet). The index is built once; a query is a
dictionary look-up plus a binary search for prefixes, never a scan.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "ґ": "g", "д": "d", "е": "e", "ё": "e",
    "є": "ye", "ж": "zh", "з": "z", "и": "i", "і": "i", "ї": "yi", "й": "y", "к": "k",
    "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ў": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya",
    "ʼ": "", "'": "", "’": "",
}  # fmt: skip
# Letters NFKD does not decompose.
_LATIN_EXTRA = {"ł": "l", "ø": "o", "đ": "d", "ß": "ss", "æ": "ae", "œ": "oe", "ı": "i"}
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_REPEATS = re.compile(r"(.)\1+")
# Folded in this order: longer spellings first.
_SKELETON_RULES = [
    ("shch", "s"), ("kh", "h"), ("zh", "z"), ("ts", "c"), ("tz", "c"), ("ch", "c"),
    ("sh", "s"), ("sz", "s"), ("cz", "c"), ("dz", "d"), ("ye", "e"), ("ie", "e"),
    ("yu", "u"), ("iu", "u"), ("ya", "a"), ("ia", "a"), ("yi", "i"), ("g", "h"),
    ("w", "v"), ("y", "i"), ("j", "i"), ("x", "ks"), ("q", "k"),
]  # fmt: skip


_TABLE = str.maketrans({**_CYRILLIC, **_LATIN_EXTRA, **{chr(c): None for c in range(0x300, 0x370)}})


def normalise(text: str) -> str:
    """Casefold, strip diacritics, transliterate Cyrillic; keep only [0-9a-z ] words."""
    # NFKD first: accents become combining marks (dropped by the table), and й/ў
    # become и/у + breve, i.e. i/u, as intended.
    folded = unicodedata.normalize("NFKD", text.casefold()).translate(_TABLE)
    return " ".join(_NON_ALNUM.sub(" ", folded).split())


def _fold(key: str) -> str:
    key = key.replace(" ", "")
    for old, new in _SKELETON_RULES:
        if old in key:
            key = key.replace(old, new)
    return _REPEATS.sub(r"\1", key)


def skeleton(text: str) -> str:
    """A looser key: ``normalise`` with transliteration variants folded together."""
    return _fold(normalise(text))


@dataclass(frozen=True)
class Match:
    """One search hit: the item index and its rank (lower is better)."""

    item: int
    rank: int


# Ranks: exact primary name < exact other name < skeleton matches < prefixes.
_EXACT, _SKELETON, _PREFIX, _SKELETON_PREFIX = 0, 2, 4, 6


@dataclass
class NameIndex:
    """Names of items (each item: a primary name and other names) for fast search."""

    _exact: dict[str, dict[int, int]] = field(default_factory=lambda: defaultdict(dict))
    _skeleton: dict[str, dict[int, int]] = field(default_factory=lambda: defaultdict(dict))
    _exact_keys: list[str] = field(default_factory=list)
    _skeleton_keys: list[str] = field(default_factory=list)

    @classmethod
    def build(cls, items: Iterable[tuple[str, Iterable[str]]]) -> NameIndex:
        """Index ``(primary_name, other_names)`` pairs; items are numbered from 0."""
        index = cls()
        exact_table, skeleton_table = index._exact, index._skeleton
        folded: dict[str, str] = {}  # many names share a normalised form
        for item, (primary, others) in enumerate(items):
            for weight, name in ((0, primary), *((1, n) for n in others)):
                exact = normalise(name)
                if not exact:
                    continue
                loose = folded.get(exact)
                if loose is None:
                    loose = folded[exact] = _fold(exact)
                for key, table in ((exact, exact_table), (loose, skeleton_table)):
                    hits = table[key]
                    if weight < hits.get(item, 2):
                        hits[item] = weight
        index._exact_keys = sorted(index._exact)
        index._skeleton_keys = sorted(index._skeleton)
        return index

    def search(self, query: str) -> list[Match]:
        """Items whose names match *query*, best first (ties keep index order)."""
        best: dict[int, int] = {}

        def offer(hits: dict[int, int], base: int) -> None:
            for item, weight in hits.items():
                rank = base + weight
                if rank < best.get(item, 99):
                    best[item] = rank

        for key, table, keys, exact_rank, prefix_rank in (
            (normalise(query), self._exact, self._exact_keys, _EXACT, _PREFIX),
            (skeleton(query), self._skeleton, self._skeleton_keys, _SKELETON, _SKELETON_PREFIX),
        ):
            if not key:
                continue
            offer(table.get(key, {}), exact_rank)
            start = bisect.bisect_left(keys, key)
            for j in range(start, len(keys)):  # by index: no copy, no walk to *start*
                other = keys[j]
                if not other.startswith(key):
                    break
                if other != key:
                    offer(table[other], prefix_rank)
        return [Match(item, rank) for item, rank in sorted(best.items(), key=lambda kv: kv[1])]
