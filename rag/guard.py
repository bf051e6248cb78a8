"""Output grounding guard: with defences on, an answer keeps only what trusted posts support.

Screening and quoting (``rag/safety.py``, ``rag/prompt.py``) keep most planted
instructions from steering the model; this checks what it wrote anyway. A post
is *trusted* when it was retrieved, is still live and screening did not flag it
(risk below ``downweight_above``). After generation, per sentence:

* identifiers (``@handles``, code-like tokens such as ``XK42B`` or an all-caps
  word, phone numbers, and links to a host) must appear in a trusted post or the question,
  else the sentence is dropped (``ungrounded_token``): a small model copies
  such tokens from whatever it was shown, and they are what a lure or a
  "reply with CODEWORD" attack needs in the answer;
* a link is repeated only as a trusted post with no injection signal at all
  (risk 0) carries it: one on a known host but with another path (the model
  wrote it), or only in posts with some signal (``click here to ...``), is cut
  from its sentence (``link_removed``), and a post whose link was cut has steered
  the answer: it is then treated as flagged (``link_carriers``);
* a sentence that repeats five words in a row of the prompt's rules is dropped
  (``prompt_leak``);
* a sentence whose only support is a flagged post is dropped
  (``flagged_support``, found by ``rag/verify.py``, which also never cites a
  flagged post).

If nothing is left, the answer says that no supported answer could be given.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from index.records import SearchHit
from rag.prompt import DATAMARK_RULE, DEFENDED_INSTRUCTIONS, INSTRUCTIONS
from rag.text import split_sentences, word_ngrams

NO_SUPPORTED_ANSWER = "No answer supported by the trusted posts could be given."
LINK_REMOVED = "(link removed)"

_LINK = re.compile(
    r"(?:https?://|www\.)[^\s<>\"'«»]+"
    # a bare domain: the last label in lower case, so "St.Louis" and "U.S." are not domains
    r"|\b[A-Za-z0-9][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)*\.[a-z]{2,24}\b(?:/[^\s<>\"'«»]*)?"
)
_HANDLE = re.compile(r"(?<![\w@])@\w{2,}")
# Letters and digits mixed (COBALT7, A1B2), or an all-caps word of four letters or more.
_CODE = re.compile(r"\b(?=[\w-]*[A-Za-z])(?=[\w-]*\d)[\w-]{4,}\b|\b[A-Z]{4,}\b")
# Ordinals, times and units are numbers, not codes ("20th", "10am", "3km", "1990s").
_NUMBER_WORD = re.compile(
    r"\d+(?:st|nd|rd|th|am|pm|s|k|m|km|mi|mph|kmh|ft|in|cm|mm|kg|lbs?|hrs?|h|mins?|yo)", re.IGNORECASE
)
# Seven digits or more with separators: a phone number (a lure as good as a link).
_PHONE = re.compile(r"(?<![\w.])\+?\d[\d\s().-]{5,}\d(?![\w.])")
# "14-day", "3-year-old", "100-mile": a number and the words it measures.
_NUMBER_COMPOUND = re.compile(r"\d+(?:-[a-z]+)+")
_WORD = re.compile(r"[a-z0-9']+")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_TRAILING = ".,;:!?)]}»\"'"
_SENTENCE_END = re.compile(r"[.!?][\"')\]\u201d\u2019]*$")
LEAK_NGRAM = 5


@dataclass(slots=True, frozen=True)
class Removal:
    """What the guard took out of an answer, and why.

    ``reason``: ``ungrounded_token``, ``prompt_leak`` or ``flagged_support`` (the
    sentence was dropped), or ``link_removed`` (only ``detail`` was cut from it).
    """

    sentence: str
    reason: str
    detail: str


@dataclass(slots=True, frozen=True)
class Evidence:
    """The identifiers an answer may use: those of trusted posts and of the question."""

    links: frozenset[str]  # normalised links of trusted posts with no injection signal
    hosts: frozenset[str]  # hosts of all trusted posts' links
    handles: frozenset[str]
    words: frozenset[str]
    compact: str  # lower-cased text without separators, for code-like tokens

    @classmethod
    def of(cls, question: str, trusted: Sequence[SearchHit], risks: dict[str, float]) -> Evidence:
        """Evidence from the question and the trusted hits (``risks``: post id -> injection risk)."""
        clean = [question, *(h.post.text for h in trusted if risks.get(h.post.post_id, 0.0) <= 0.0)]
        texts = [question, *(hit.post.text for hit in trusted)]
        handles = {h.lower() for text in texts for h in _HANDLE.findall(text)}
        handles |= {f"@{hit.post.author.lower()}" for hit in trusted}
        return cls(
            links=frozenset(_links(clean)),
            hosts=frozenset(link.split("/")[0] for link in _links(texts)),
            handles=frozenset(handles),
            words=frozenset(_WORD.findall(" ".join(texts).lower())),
            compact=" ".join(_NON_ALNUM.sub("", text.lower()) for text in texts),
        )


def guard_answer(text: str, evidence: Evidence) -> tuple[str, list[Removal]]:
    """The answer without ungrounded identifiers, ungrounded links or leaked rules, and what went."""
    kept: list[str] = []
    removals: list[Removal] = []
    for sentence in split_sentences(text):
        token = _ungrounded_token(sentence, evidence)
        leak = None if token else _leak(sentence)
        if token or leak:
            removals.append(Removal(sentence, "ungrounded_token" if token else "prompt_leak", token or leak))
            continue
        guarded = sentence
        for link in _unvouched_links(sentence, evidence):
            guarded = guarded.replace(link, LINK_REMOVED)
            removals.append(Removal(sentence, "link_removed", link))
        kept.append(guarded)
    return " ".join(kept), removals


def link_carriers(removals: Iterable[Removal], hits: Iterable[SearchHit]) -> set[str]:
    """Ids of the posts that carry a link the guard cut: the answer copied it from them."""
    cut = {_normal_link(r.detail) for r in removals if r.reason == "link_removed"}
    return {
        hit.post.post_id
        for hit in hits
        if any(_grounded_link(link, known) for link in cut for known in _links([hit.post.text]))
    }


def drop_sentences(text: str, sentences: Iterable[str]) -> str:
    """``text`` without the given sentences (as ``split_sentences`` cut them)."""
    dropped = set(sentences)
    return " ".join(s for s in split_sentences(text) if s not in dropped)


class StreamGate:
    """Passes streamed text on once its words are checked, holding back what the guard removes.

    A word still being written is held. A word with an ungrounded identifier is
    withheld with the rest of its sentence, and so is the rest of a sentence once
    it repeats five words of the rules; a link no clean post carries is
    replaced. Pieces go out unchanged while nothing is withheld. The final answer
    is still the authority: it also drops the start of such a sentence, and
    sentences only flagged posts support.
    """

    def __init__(self, evidence: Evidence) -> None:
        self._evidence = evidence
        self._held: list[str] = []
        self._sentence: list[str] = []
        self._muted = False

    def feed(self, piece: str) -> list[str]:
        """What can be sent now that ``piece`` has arrived."""
        self._held.append(piece)
        text = "".join(self._held)
        end = max(text.rfind(" "), text.rfind("\n"), text.rfind("\t")) + 1  # words before it are whole
        ready, offset = 0, 0
        for held in self._held:
            if offset + len(held) > end:
                break
            offset += len(held)
            ready += 1
        return self._release(ready)

    def flush(self) -> list[str]:
        """What is left once the model has finished."""
        return self._release(len(self._held))

    def _release(self, count: int) -> list[str]:
        pieces, self._held = self._held[:count], self._held[count:]
        text = "".join(pieces)
        out = [self._admit(part) for part in re.findall(r"\s*\S+\s*|\s+", text)]
        if "".join(out) == text:
            return pieces
        return [joined] if (joined := "".join(out)) else []

    def _admit(self, part: str) -> str:
        word = part.strip()
        if not word:
            return "" if self._muted else part
        admitted = ""
        if not self._muted:
            self._sentence.append(word)
            if _ungrounded_token(word, self._evidence) or _leak(" ".join(self._sentence)):
                self._muted = True
            else:
                admitted = part
                for link in _unvouched_links(word, self._evidence):
                    admitted = admitted.replace(link, LINK_REMOVED)
        if _SENTENCE_END.search(word):
            self._muted, self._sentence = False, []
        return admitted


def _ungrounded_token(sentence: str, evidence: Evidence) -> str | None:
    for link in _LINK.findall(sentence):
        if _normal_link(link).split("/")[0] not in evidence.hosts:
            return link.rstrip(_TRAILING)
    without_links = _LINK.sub(" ", sentence)
    for phone in _PHONE.findall(without_links):
        digits = re.sub(r"\D", "", phone)
        if len(digits) >= 7 and digits not in evidence.compact:
            return phone.strip()
    for handle in _HANDLE.findall(without_links):
        if handle.lower() not in evidence.handles:
            return handle
    for code in _CODE.findall(_HANDLE.sub(" ", without_links)):
        if _NUMBER_WORD.fullmatch(code) or _NUMBER_COMPOUND.fullmatch(code):
            continue
        if code.isalpha() and code.lower() in evidence.words:
            continue
        if _NON_ALNUM.sub("", code.lower()) not in evidence.compact:
            return code
    return None


def _unvouched_links(text: str, evidence: Evidence) -> list[str]:
    """Links of ``text`` that no trusted post without an injection signal carries."""
    found = []
    for link in _LINK.findall(text):
        if not any(_grounded_link(_normal_link(link), known) for known in evidence.links):
            found.append(link.rstrip(_TRAILING))
    return list(dict.fromkeys(found))


def _links(texts: Iterable[str]) -> set[str]:
    return {_normal_link(link) for text in texts for link in _LINK.findall(text)}


def _normal_link(link: str) -> str:
    link = link.lower().rstrip(_TRAILING)
    link = re.sub(r"^https?://", "", link)
    return link.removeprefix("www.").rstrip("/")


def _grounded_link(link: str, known: str) -> bool:
    """The answer's link is a known one, or a shortening of it (its host, or a path prefix)."""
    return known == link or known.startswith(link + "/")


_RULES = word_ngrams(" ".join((INSTRUCTIONS, DEFENDED_INSTRUCTIONS, DATAMARK_RULE)), LEAK_NGRAM)


def _leak(sentence: str) -> str | None:
    shared = word_ngrams(sentence, LEAK_NGRAM) & _RULES
    return " ".join(min(shared)) if shared else None
