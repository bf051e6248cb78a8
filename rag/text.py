"""Small text utilities shared by retrieval and citation attribution."""

from __future__ import annotations

import re

_URL = re.compile(r"https?://\S+")
_REPOST = re.compile(r"^\s*RT\s+@\w+:?\s*", re.IGNORECASE)
_MENTION = re.compile(r"@\w+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[a-z0-9][a-z0-9']+")
_NGRAM_WORD = re.compile(r"[a-z0-9']+")
STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "him",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "just",
        "me",
        "more",
        "most",
        "my",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "rt",
        "amp",
        "via",
        "http",
        "https",
        "co",
        "t",
        "s",
        "re",
        "ve",
        "ll",
        "d",
        "m",
    ]
)


def content_words(text: str) -> set[str]:
    """Lower-cased words of a text without URLs, mentions, stopwords or one-letter tokens."""
    text = _MENTION.sub(" ", _URL.sub(" ", text.lower()))
    return {word.strip("'") for word in _WORD.findall(text) if word not in STOPWORDS}


def word_ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    """Every run of ``n`` consecutive lower-cased words (letters, digits, apostrophes)."""
    words = _NGRAM_WORD.findall(text.lower())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def dedup_key(text: str) -> str:
    """A key under which reposts and trivially edited copies of one text collide."""
    text = _REPOST.sub("", text)
    text = _MENTION.sub(" ", _URL.sub(" ", text.lower()))
    return " ".join(_WORD.findall(text))


def is_repost(text: str) -> bool:
    """Whether the text starts with a ``RT @user:`` prefix."""
    return bool(_REPOST.match(text))


def split_sentences(text: str) -> list[str]:
    """Sentences of a short answer (split after . ! ? followed by white space)."""
    return [part.strip() for part in _SENTENCE_END.split(text) if part.strip()]


def tidy_answer(text: str, truncated: bool) -> str:
    """Drop sentences a greedy small model repeated, and a sentence cut off by max_tokens."""
    sentences = split_sentences(text)
    if truncated and len(sentences) > 1 and not sentences[-1].endswith((".", "!", "?", "]")):
        sentences = sentences[:-1]
    kept: list[str] = []
    for sentence in sentences:
        if sentence.lower() not in {seen.lower() for seen in kept}:
            kept.append(sentence)
    return " ".join(kept)
