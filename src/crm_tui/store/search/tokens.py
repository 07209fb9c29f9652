"""Search tokens: what a customer can be found by, as one space-separated string.

Per DESIGN §6/§11: each pair of adjacent CJK characters and each run's last character (so
one- and two-character queries work as prefix matches), pinyin read word by word from the
run's start and from each character in it, with initials (``cjk_tokens``), for names each
syllable (every reading of a surname, since pypinyin misreads 曾, 单, 解, 仇, 区), Latin words,
and a phone's digits as overlapping 4-grams plus its last three digits (see ``digit_tokens``).
FTS5 (``unicode61``) and PostgreSQL's ``simple`` text search both split on spaces and match
prefixes. The fields are kept apart by ``FIELD_SEP`` (name, company, contacts, the rest), which
both read as a space and ranking reads as a field boundary (``match_tier``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from itertools import chain

from crm_tui.store.search.pinyin import run_pinyin, run_readings

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]+")
_WORD = re.compile(r"[0-9a-z]+")
_DIGITS = re.compile(r"[0-9]+")
GRAM = 4  # digit runs are indexed as overlapping runs of this many digits
_PERSON_NAME_MAX = 4  # CJK runs this short are indexed syllable by syllable (names)
_PHONE_QUERY = re.compile(r"[0-9\s\-+().]+")


SPAN = 8
"""Characters a pinyin token starting inside a run reaches (the run's first one reaches its end)."""
MAX_STARTS = 16
"""Positions of a run that pinyin tokens start from, counted from its start."""
FIELD_SEP = "|"
"""Between the fields of ``search_text`` (name, company, contacts, the rest): FTS5's unicode61
and PostgreSQL's ``simple`` parser both read it as a space, and ranking reads the fields."""
FIELD_COUNT = 4
"""The fields of ``search_text``; ``match_tier`` returns it for text the query does not match."""


def full_pinyin(text: str) -> str:
    """The pinyin of ``text``'s CJK characters run together (one reading each); others dropped."""
    return "".join("".join(run_pinyin(match.group())) for match in _CJK.finditer(text))


def cjk_tokens(run: str, *, is_name_start: bool) -> list[str]:
    """Tokens of one run of CJK characters.

    Each pair of adjacent characters, and the last character: queries match token prefixes, so
    a one-character query finds a character through the pair it starts (or as the last one).
    Then pinyin, read word by word (``pinyin.run_readings``: 重庆 is chong qing): from the
    run's start to its end, and from each later character up to ``SPAN`` characters on, each
    with its initials, so ``boyuan`` and ``by`` find 沈阳博远生物 as ``shenyang`` and ``sy`` do.
    A token starts with every reading its first character may have (a heteronym outside a
    known word, every reading of a surname); the characters after it take their first. Short
    runs at a name's start (personal names) also give each syllable.
    """
    if not run:
        return []
    out = [run[i : i + 2] for i in range(len(run) - 1)]
    out.append(run[-1])
    person = is_name_start and len(run) <= _PERSON_NAME_MAX
    readings = run_readings(run, person=person)
    chosen = [r[0] if r else "" for r in readings]
    for start in range(min(len(run), MAX_STARTS)):
        end = len(run) if start == 0 else min(len(run), start + SPAN)
        tail = chosen[start + 1 : end]
        for head in readings[start] or ("",):
            syllables = [head, *tail]
            full = "".join(syllables)
            if full:
                out.append(full)
            initials = "".join(s[0] for s in syllables if s)
            if len(initials) > 1:
                out.append(initials)
            if person and head:
                out.append(head)
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
    """The ``search_text`` of a customer from its own fields and its contacts' (name, phone, email).

    Fields in the order search ranks them: the name, the company, the contacts, the rest.
    """
    contact_parts: list[list[str]] = []
    for contact_name, contact_phone, contact_email in contacts:
        contact_parts += [text_tokens(contact_name, is_name=True), phone_tokens(contact_phone),
                          email_tokens(contact_email)]
    return join_fields([
        [text_tokens(name, is_name=True)],
        [text_tokens(company)],
        contact_parts,
        [phone_tokens(phone), email_tokens(email)],
    ])


def join_fields(fields: Iterable[Iterable[Iterable[str]]]) -> str:
    """The ``search_text`` from each field's token lists, fields apart by ``FIELD_SEP``.

    A token is kept once, in the first field that has it (ranking asks which fields a query
    needs, the earliest first). Bulk loaders cache the lists per name.
    """
    seen: set[str] = set()
    out: list[str] = []
    for field in fields:
        tokens = [t for t in dict.fromkeys(filter(None, chain.from_iterable(field)))
                  if t not in seen]
        seen.update(tokens)
        out.append(" ".join(tokens))
    return f" {FIELD_SEP} ".join(out).strip()


def join_tokens(parts: Iterable[Iterable[str]]) -> str:
    """One field's tokens as a string, each kept once."""
    return " ".join(dict.fromkeys(filter(None, chain.from_iterable(parts))))


def match_tier(search_text: str, terms: list[str]) -> int:
    """How far into ``search_text``'s fields a query's terms reach: 0 when the name holds them
    all, 1 with the company, 2 with the contacts, 3 beyond (what ``customer_tokens`` writes);
    ``FIELD_COUNT`` when some term is in none.

    A term matches a token it starts (a long digit run: a token for each of its 4-grams).
    """
    fields = search_text.split(FIELD_SEP)
    needed = 0
    for term in terms:
        wanted = digit_grams(term) if is_digit_run(term) else [term]
        reach = 0
        for gram in wanted:
            for index, field in enumerate(fields):
                if _field_has(field, gram):
                    reach = max(reach, index)
                    break
            else:
                return FIELD_COUNT
        needed = max(needed, reach)
    return needed


def _field_has(field: str, term: str) -> bool:
    """Whether a token of ``field`` (space-separated) starts with ``term``."""
    at = field.find(term)
    while at != -1:
        if at == 0 or field[at - 1] == " ":
            return True
        at = field.find(term, at + 1)
    return False


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
