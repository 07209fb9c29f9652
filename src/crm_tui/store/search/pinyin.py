"""Pinyin readings of runs of Chinese characters, for search tokens and sort keys.

A character alone is read by pypinyin without its phrase data (``PYPINYIN_NO_PHRASES=1``:
56 ms and 13 MB to import instead of 144 ms and 58 MB, DESIGN §11). Words whose reading the
characters alone get wrong (重庆 chong qing, not zhong qing; 长沙 chang sha; 银行 yin hang) come
from ``phrase_table.py``, a list drawn from pypinyin's phrase data of the words that hold a
character with several readings. A run is read word by word (longest known word first); a
character outside any known word that has several readings keeps them all, so a search finds
it by any of them. A surname has its own reading (曾 zeng, 单 shan, 解 xie, 仇 qiu, 区 ou), and
every other reading too, since a given name is no proof of it.

Both pypinyin and the phrase list load on first use, where tokens or sort keys are computed
(writes, imports, the demo), never on ``crm find``'s path or the TUI's start.
"""

from __future__ import annotations

import os
import unicodedata
from functools import lru_cache

MAX_READINGS = 3
"""Most readings kept for a character outside a known word (surnames: ``MAX_SURNAME_READINGS``)."""
MAX_SURNAME_READINGS = 4

SURNAMES = {
    "曾": "zeng", "单": "shan", "解": "xie", "仇": "qiu", "区": "ou", "朴": "piao", "查": "zha",
    "盖": "ge", "乐": "yue", "覃": "qin", "翟": "zhai", "尉": "wei", "秘": "bi", "缪": "miao",
    "召": "shao", "繁": "po", "员": "yun", "种": "chong", "长": "chang", "重": "chong",
    "柏": "bai", "薄": "bo", "藏": "zang", "隗": "wei", "冼": "xian", "莘": "shen", "都": "du",
    "能": "nai", "阚": "kan", "句": "gou", "祭": "zhai", "眭": "sui", "蕃": "pi", "沈": "shen",
    "洗": "xian", "万": "wan", "宿": "su", "任": "ren", "石": "shi", "宁": "ning", "俞": "yu",
    "尹": "yin", "车": "che", "於": "yu", "贲": "ben",
}
"""How a character reads as a family name, where that is not its first reading."""

_U_UMLAUT = str.maketrans({"ü": "v", "ǖ": "v", "ǘ": "v", "ǚ": "v", "ǜ": "v"})


@lru_cache(maxsize=65536)
def char_readings(char: str) -> tuple[str, ...]:
    """Every reading of one character, the most common first (empty when it has none)."""
    os.environ.setdefault("PYPINYIN_NO_PHRASES", "1")
    from pypinyin import Style, pinyin

    found = pinyin(char, style=Style.NORMAL, heteronym=True, errors="ignore")
    if not found:
        return ()
    readings = (
        unicodedata.normalize("NFKD", r.translate(_U_UMLAUT)).encode("ascii", "ignore").decode()
        for r in found[0] if r
    )
    return tuple(dict.fromkeys(r for r in readings if r.isalpha()))


@lru_cache(maxsize=1)
def _phrases() -> tuple[dict[str, tuple[str, ...] | None], int]:
    """Known words -> their syllables (None: the characters' first readings), and the longest."""
    from crm_tui.store.search.phrase_table import PHRASES

    table: dict[str, tuple[str, ...] | None] = {}
    for line in PHRASES.splitlines():
        word, _, syllables = line.partition(" ")
        table[word] = tuple(syllables.split()) if syllables else None
    return table, max(map(len, table))


@lru_cache(maxsize=131072)
def run_readings(run: str, *, person: bool = False) -> tuple[tuple[str, ...], ...]:
    """Per character of a run of CJK characters: the readings to index, the one to show first.

    A character in a known word has the word's one reading; one outside has all of its
    readings (up to ``MAX_READINGS``). With ``person`` the first character is a surname: its
    surname reading first, then every other.
    """
    table, longest = _phrases()
    out: list[tuple[str, ...]] = []
    i = 0
    while i < len(run):
        for size in range(min(longest, len(run) - i), 1, -1):
            word = run[i : i + size]
            if word in table:
                syllables = table[word] or tuple(
                    (char_readings(ch) or ("",))[0] for ch in word)
                out += [(s,) if s else () for s in syllables]
                i += size
                break
        else:
            out.append(char_readings(run[i])[:MAX_READINGS])
            i += 1
    if person and run:
        first = char_readings(run[0])
        surname = SURNAMES.get(run[0])
        ordered = dict.fromkeys([surname, *first] if surname else first)
        out[0] = tuple(ordered)[:MAX_SURNAME_READINGS]
    return tuple(out)


def run_pinyin(run: str, *, person: bool = False) -> list[str]:
    """One syllable per character of ``run`` (its first reading; empty for none)."""
    return [r[0] if r else "" for r in run_readings(run, person=person)]
