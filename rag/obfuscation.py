# ruff: noqa: RUF002 (the homoglyphs named here are what this module undoes)
"""Other readings of a post, so that hiding an instruction does not hide it from screening.

Attackers write instructions in ways a person decodes but a phrase match does not:
homoglyphs ("іgnоrе" with Cyrillic letters), spaced letters ("I G N O R E"), leetspeak
("f0rg37"), rot13, reversed text, base64 and invisible Unicode tag characters.
``decoded_readings`` undoes each of these; the injection scorer (``rag/safety.py``)
matches its patterns against every reading, and counts an instruction found only in a
decoded reading as a signal of its own.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import unicodedata

# Cyrillic and Greek letters drawn like Latin ones.
_CONFUSABLES = str.maketrans(
    "аеорсухіјѕԁһӏԛԝАВЕКМНОРСТУХІЈЅԌԚԜαοτυνιρκχΑΒΕΖΗΙΚΜΝΟΡΤΥΧ",
    "aeopcyxijsdhlqwABEKMHOPCTYXIJSGQWaotuvipkxABEZHIKMNOPTYX",
)
_CONFUSABLE_LETTERS = frozenset("аеорсухіјѕԁһӏԛԝАВЕКМНОРСТУХІЈЅԌԚԜαοτυνιρκχΑΒΕΖΗΙΚΜΝΟΡΤΥΧ")
_LATIN = re.compile(r"[A-Za-z]")
_WORD = re.compile(r"\w+")
_SPACED = re.compile(r"(?<!\S)(?:\w[ .·_\-]){2,}\w(?!\S)")
_LEET = str.maketrans("013456789@$", "oieasgtbgas")
_LEET_WORD = re.compile(r"\b(?=\w*[a-zA-Z])(?=\w*[013457])\w{3,}\b")
_BASE64 = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")
_TAG_CHARS = re.compile(r"[\U000e0020-\U000e007e]+")
_COMMON_WORDS = re.compile(
    r"\b(?:the|and|to|of|you|your|with|this|that|is|are|only|all|say|write|answer|reply|post|posts|ignore)\b",
    re.IGNORECASE,
)


def decoded_readings(text: str) -> list[str]:
    """The post as each decoding would read it; only readings that differ from ``text``."""
    readings = [
        _fold_confusables(text),
        _join_spaced_letters(text),
        _undo_leetspeak(text),
        *_base64_payloads(text),
        *tag_payloads(text),
    ]
    # Any text can be rot13-ed or reversed; only a reading with more common words is one.
    readings += [r for r in (codecs.encode(text, "rot13"), text[::-1]) if _wordier(r, than=text)]
    return [reading for reading in dict.fromkeys(readings) if reading and reading != text]


def has_encoded_payload(text: str) -> bool:
    """Base64 that decodes to readable text, or a run of invisible tag characters."""
    return bool(_base64_payloads(text) or tag_payloads(text))


def _wordier(reading: str, than: str) -> bool:
    return len(_COMMON_WORDS.findall(reading)) > len(_COMMON_WORDS.findall(than))


def _fold_confusables(text: str) -> str:
    """Words that mix Latin letters with Cyrillic/Greek look-alikes, spelled in Latin."""

    def fold(match: re.Match[str]) -> str:
        word = match.group()
        if _LATIN.search(word) and any(ch in _CONFUSABLE_LETTERS for ch in word):
            return word.translate(_CONFUSABLES)
        return word

    return _WORD.sub(fold, text)


def _join_spaced_letters(text: str) -> str:
    """ "I G N O R E  T H I S" -> "IGNORE THIS": single letters joined, wider gaps kept as spaces."""

    def join(match: re.Match[str]) -> str:
        return "".join(ch for ch in match.group() if ch.isalnum())

    spaced = re.sub(r" {2,}", "  ", text)
    return " ".join(_SPACED.sub(join, part) for part in spaced.split("  "))


def _undo_leetspeak(text: str) -> str:
    """Words that mix letters with look-alike digits ("f0rg37") read as letters ("forget")."""
    return _LEET_WORD.sub(lambda m: m.group().translate(_LEET), text)


def _base64_payloads(text: str) -> list[str]:
    payloads = []
    for match in _BASE64.finditer(text):
        blob = match.group()
        try:
            decoded = base64.b64decode(blob + "=" * (-len(blob) % 4), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        printable = sum(ch.isprintable() for ch in decoded)
        if len(decoded) >= 8 and printable >= 0.95 * len(decoded) and " " in decoded:
            payloads.append(unicodedata.normalize("NFKC", decoded))
    return payloads


def tag_payloads(text: str) -> list[str]:
    """Unicode tag characters (U+E0020..E007E) mirror ASCII and render as nothing."""
    return ["".join(chr(ord(ch) - 0xE0000) for ch in run.group()) for run in _TAG_CHARS.finditer(text)]
