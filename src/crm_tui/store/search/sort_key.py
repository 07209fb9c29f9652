"""The key the customer list sorts names by: Chinese by pinyin, Latin alphabetically, together.

张伟 sorts as ``zhang wei`` among the Z names, 重庆万象 as ``chong qing …`` among the C names
(DESIGN §17: the order Chinese users expect), Zoë Müller as ``zoe muller``. The key is built of
``0-9a-z`` alone, so a plain index orders it the same way on SQLite (binary) and on PostgreSQL
under any collation (C, en_US, ICU: for these characters all agree with byte order):

- words and syllables end with ``0``, so ``zhan`` (詹) sorts before ``zhang`` (张);
- a digit ``d`` is ``1d``, so numbers sort before words and ``A1`` before ``A10``;
- a character with neither a Latin letter nor a pinyin reading is ``2`` and five hex digits;
- after the words, ``0`` and each CJK character's code point (five hex digits), so names
  that read alike (张伟, 章伟) keep apart, each in one block.
"""

from __future__ import annotations

import re
import unicodedata

from crm_tui.store.search.pinyin import run_pinyin

SORT_KEY_LENGTH = 200
"""The column's width; a longer key is cut (names are at most 200 characters)."""

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]+")
_PIECES = re.compile(
    r"(?P<cjk>[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]+)"
    r"|(?P<word>[^\W_]+)"
)
_PERSON_NAME_MAX = 4


def name_sort_key(name: str | None) -> str:
    """The sort key of a customer's name (see the module's docstring)."""
    if not name:
        return ""
    words, tiebreak = _pieces(name)
    key = "".join(f"{word}0" for word in words)
    if tiebreak:
        key += "0" + "".join(tiebreak)
    return key[:SORT_KEY_LENGTH]


def has_cjk(text: str) -> bool:
    """Whether ``text`` holds a Chinese character (its sort key would need pinyin)."""
    return _CJK.search(text) is not None


def sort_prefix(text: str) -> str:
    """What the sort key of every name starting with ``text`` starts with (its words, the last
    one open: ``hooli q`` gives ``hooli0q``, which ``Hooli Quantum Ltd``'s key starts with);
    empty for text with no words. Names read alike (张伟, 章伟) share it."""
    words, _ = _pieces(text)
    return "0".join(word for word in words if word)[:SORT_KEY_LENGTH]


def _pieces(name: str) -> tuple[list[str], list[str]]:
    """The words of a name as the key spells them, and its CJK characters' code points."""
    normal = unicodedata.normalize("NFKC", name).casefold()
    words: list[str] = []
    tiebreak: list[str] = []
    for index, match in enumerate(_PIECES.finditer(normal)):
        cjk = match.group("cjk")
        if cjk:
            person = index == 0 and len(cjk) <= _PERSON_NAME_MAX
            for char, syllable in zip(cjk, run_pinyin(cjk, person=person), strict=True):
                words.append(syllable or _other(char))
                tiebreak.append(f"{ord(char):05x}")
        else:
            words.append(_word(match.group("word")))
    return [word for word in words if word], tiebreak


def _word(word: str) -> str:
    """A Latin (or other script's) word: letters folded to ASCII, digits as ``1d``."""
    out: list[str] = []
    for char in word:
        if char.isdigit() and char.isascii():
            out.append("1" + char)
            continue
        folded = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
        out.append(folded if folded.isalnum() else _other(char))
    return "".join(out)


def _other(char: str) -> str:
    return f"2{ord(char):05x}"
