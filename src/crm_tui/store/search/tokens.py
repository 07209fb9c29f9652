"""Search tokens: what a customer can be found by, as one space-separated string.

Per DESIGN §6/§11: each pair of adjacent CJK characters and each run's last character (so
one- and two-character queries work as prefix matches), full pinyin, pinyin initials and, for
names, each syllable (every reading of a surname, since pypinyin misreads 曾, 单, 解, 仇, 区),
Latin words, and a phone's digits as overlapping 4-grams plus its last three digits (see
``digit_tokens``). FTS5 (``unicode61``) and PostgreSQL's ``simple`` text search both split on
spaces and match prefixes.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from itertools import chain

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]+")
_WORD = re.compile(r"[0-9a-z]+")
_DIGITS = re.compile(r"[0-9]+")
GRAM = 4  # digit runs are indexed as overlapping runs of this many digits
_PERSON_NAME_MAX = 4  # CJK runs this short are indexed syllable by syllable (names)
_PHONE_QUERY = re.compile(r"[0-9\s\-+().]+")


@lru_cache(maxsize=65536)
def _readings(char: str, all_readings: bool) -> tuple[str, ...]:
    """Pinyin readings of one character (all of them for surnames), cached per character."""
    os.environ.setdefault("PYPINYIN_NO_PHRASES", "1")
    from pypinyin import Style, pinyin

    readings = pinyin(char, style=Style.NORMAL, heteronym=all_readings, errors="ignore")
    if not readings:
        return ()
    found = [r.replace("ü", "v") for r in readings[0] if r and r.isascii()]
    return tuple(dict.fromkeys(found if all_readings else found[:1]))


def full_pinyin(text: str) -> str:
    """The pinyin of ``text``'s CJK characters run together (one reading each); others dropped."""
    return "".join((_readings(ch, False) or ("",))[0] for ch in text)


def cjk_tokens(run: str, *, is_name_start: bool) -> list[str]:
    """Tokens of one run of CJK characters.

    Each pair of adjacent characters, and the last character: queries match token prefixes, so
    a one-character query finds a character through the pair it starts (or as the last one).
    Then the full pinyin and its initials, and for short runs (personal names) each syllable,
    with every reading of a surname. Fewer tokens keep the index small and quick to build.
    """
    if not run:
        return []
    out = [run[i : i + 2] for i in range(len(run) - 1)]
    out.append(run[-1])
    person = len(run) <= _PERSON_NAME_MAX
    first = _readings(run[0], is_name_start and person)
    rest = [(_readings(ch, False) or ("",))[0] for ch in run[1:]]
    for head in first or ("",):
        syllables = [head, *rest]
        full = "".join(syllables)
        if full:
            out.append(full)
            out.append("".join(s[0] for s in syllables if s))
        if person:
            out += [s for s in syllables if s]
    return out


def text_tokens(value: str | None, *, is_name: bool = False) -> list[str]:
    """Tokens of a name, company or other free text."""
    if not value:
        return []
    normal = unicodedata.normalize("NFKC", value).casefold()
    out: list[str] = []
    for index, match in enumerate(_CJK.finditer(normal)):
        out += cjk_tokens(match.group(), is_name_start=is_name and index == 0)
    latin = _CJK.sub(" ", normal)
    ascii_text = unicodedata.normalize("NFKD", latin).encode("ascii", "ignore").decode()
    words = _WORD.findall(ascii_text)
    out += _digit_words(words)
    if len(words) > 1:
        out.append("".join(words))
    return out


def digit_tokens(digits: str) -> list[str]:
    """A run of digits as its overlapping 4-grams and its last three digits.

    Any run of up to four digits is then the prefix of some token (the last three digits are
    the only run of three not starting a 4-gram). A longer run is looked up as the AND of its
    4-grams (exact terms, see ``digit_grams``) and verified against the stored text, since the
    grams alone could be scattered. Few distinct terms (at most 10,000 4-grams) keep the index
    small and quick to build, where every suffix was a distinct term.
    """
    if len(digits) <= GRAM:
        return [digits] if digits else []
    return [*(digits[i : i + GRAM] for i in range(len(digits) - GRAM + 1)), digits[-3:]]


def digit_grams(run: str) -> list[str]:
    """The 4-grams a query's digit run (four digits or more) is looked up by: all of them.

    Phone numbers share their first digits (``8613…``), so a few spread grams could all be
    common while the run itself is rare; every gram keeps the candidates close to the true
    matches, which the verification then confirms.
    """
    return list(dict.fromkeys(run[i : i + GRAM] for i in range(len(run) - GRAM + 1)))


def is_digit_run(term: str) -> bool:
    """A query term looked up as exact 4-grams: all digits, at least a gram long.

    Four digits are one gram, an exact term (a prefix query would first gather the whole
    doclist of a gram such as ``8613``, held by half the customers); longer runs are the AND
    of their grams, verified (``needs_check``).
    """
    return len(term) >= GRAM and term.isascii() and term.isdigit()


def needs_check(term: str) -> bool:
    """A digit run whose grams could be scattered: it must be verified in the stored text."""
    return len(term) > GRAM and is_digit_run(term)


def _digit_words(words: list[str]) -> list[str]:
    out: list[str] = []
    for word in words:
        if len(word) > GRAM and word.isdigit():
            out += digit_tokens(word)
        else:
            out.append(word)
    return out


def phone_tokens(phone: str | None) -> list[str]:
    """The phone's digits (country code included) as ``digit_tokens``."""
    if not phone:
        return []
    return digit_tokens("".join(_DIGITS.findall(phone)))


def email_tokens(email: str | None) -> list[str]:
    if not email:
        return []
    lowered = email.casefold()
    return _digit_words(
        _WORD.findall(unicodedata.normalize("NFKD", lowered).encode("ascii", "ignore").decode()))


def customer_tokens(
    name: str,
    company: str | None = None,
    phone: str | None = None,
    email: str | None = None,
    contacts: Iterable[tuple[str | None, str | None, str | None]] = (),
) -> str:
    """The ``search_text`` of a customer from its own fields and its contacts' (name, phone, email)."""
    parts = [text_tokens(name, is_name=True), text_tokens(company), phone_tokens(phone),
             email_tokens(email)]
    for contact_name, contact_phone, contact_email in contacts:
        parts += [text_tokens(contact_name, is_name=True), phone_tokens(contact_phone),
                  email_tokens(contact_email)]
    return join_tokens(parts)


def join_tokens(parts: Iterable[Iterable[str]]) -> str:
    """The ``search_text`` from per-field token lists (bulk loaders cache the lists per field)."""
    return " ".join(dict.fromkeys(filter(None, chain.from_iterable(parts))))


def query_terms(query: str) -> list[str]:
    """Split a search box's text into terms, each to be matched as a token prefix.

    Except a run of four digits or more, which is matched by its exact 4-grams (and verified
    when longer, see ``digit_tokens``).

    A CJK run longer than two characters becomes its adjacent pairs (all must match), which
    the pair tokens answer; digits keep only digits; everything else becomes lowercase words.
    Anything that is not a letter or digit is dropped, so user input never reaches the query
    syntax of FTS5 or tsquery.
    """
    normal = unicodedata.normalize("NFKC", query).casefold()
    if _PHONE_QUERY.fullmatch(normal) and any(ch.isdigit() for ch in normal):
        return ["".join(_DIGITS.findall(normal))]
    terms: list[str] = []
    for match in _CJK.finditer(normal):
        run = match.group()
        if len(run) <= 2:
            terms.append(run)
        else:
            terms += [run[i : i + 2] for i in range(len(run) - 1)]
    latin = unicodedata.normalize("NFKD", _CJK.sub(" ", normal)).encode("ascii", "ignore").decode()
    terms += _WORD.findall(latin)
    return list(dict.fromkeys(terms))
