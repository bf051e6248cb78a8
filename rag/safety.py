"""Posts are untrusted data: neutralise markup in them and score how much they look like an attack.

A post can carry text written to steer the model ("ignore previous instructions",
fake ``system:`` turns, chat-template tokens, citation markers, link lures). The
prompt quotes every post between delimiters under an instruction hierarchy
(``rag/prompt.py``); here each post is cleaned of what could break out of its
quotes and given an injection-risk score in [0, 1] from weighted patterns in
English, Spanish, French, German, Portuguese and Italian. The retriever leaves
out posts at or above ``exclude_above`` and down-weights those above
``downweight_above`` (``rag/retrieval.py``).

The patterns are a heuristic, not a classifier: they catch the common phrasings
(see tests/eval/injection for what was measured) and miss paraphrases.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

OPEN_QUOTE, CLOSE_QUOTE = "«", "»"

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]")
# C0/C1 controls, zero-width and bidi overrides (used to hide or reorder text).
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_TEMPLATE_TOKENS = re.compile(
    r"<\|[^|>]{0,40}\|>|</?(?:start_of_turn|end_of_turn|s|bos|eos)>|\[/?INST\]|<</?SYS>>", re.IGNORECASE
)
_TAG = re.compile(r"</?[a-zA-Z][^<>]{0,200}>")
_MD_LINK = re.compile(r"!?\[([^\]]{0,200})\]\(([^)\s]{0,500})\)")
_MARKER = re.compile(r"\[\s*(\d+(?:\s*,\s*\d+)*)\s*\]")
_PROMPT_CUES = re.compile(r"\b(question|answer|posts|system|assistant|user|developer)\s*:", re.IGNORECASE)
_FENCE = re.compile(r"`{3,}|#{2,}|={3,}|-{3,}")

# (weight, reason, pattern). Weights combine as independent evidence: 1 - prod(1 - w).
_SIGNALS: tuple[tuple[float, str, re.Pattern[str]], ...] = tuple(
    (weight, reason, re.compile(pattern, re.IGNORECASE))
    for weight, reason, pattern in (
        (
            0.9,
            "instruction_override",
            r"\b(ignore|disregard|forget|override|bypass)\b.{0,30}\b(previous|prior|above|earlier|preceding"
            r"|all|your|the|system)\b.{0,20}\b(instructions?|rules|prompts?|directions|guidelines)"
            r"|\bignor(a|e|ez|ar|iere|ieren|ate)\b.{0,30}\b(instrucciones|instructions|anweisungen"
            r"|instruções|istruzioni|reglas|règles|regeln|regras|regole|consignes)"
            r"|\b(olvida|oublie|vergiss|esqueça|dimentica)\b.{0,30}\b(instrucciones|instructions"
            r"|anweisungen|instruções|istruzioni)",
        ),
        (
            0.7,
            "new_instructions",
            r"\b(new|updated|real|actual|important) (instructions?|task|orders|system prompt)\b"
            r"|\bnuevas instrucciones\b|\bnouvelles (instructions|consignes)\b|\bneue anweisungen?\b"
            r"|\bnovas instruções\b|\bnuove istruzioni\b",
        ),
        (0.8, "template_token", r"<\|[^|>]{0,40}\|>|</?(start_of_turn|end_of_turn)>|\[/?INST\]|<</?SYS>>"),
        # "system:" alone also appears in real alerts ("warning system: ..."), so it only down-weights.
        (
            0.45,
            "role_label",
            r"(^|[\s>\]\)|])(system|assistant|developer|sistema|système|asistente|assistent)\s*:",
        ),
        (
            0.8,
            "prompt_reveal",
            r"\b(reveal|print|show|repeat|output|leak|tell me|display)\b.{0,25}\b(system prompt|your prompt"
            r"|your instructions|the instructions|hidden instructions|initial prompt)"
            r"|\b(revela|muestra|repite)\b.{0,25}\b(instrucciones|prompt)"
            r"|\b(révèle|affiche|montre|répète)\b.{0,25}\b(instructions|prompt|consignes)"
            r"|\b(zeige|verrate|wiederhole|gib)\b.{0,25}\b(anweisungen|prompt|systemprompt)",
        ),
        (
            0.6,
            "output_coercion",
            r"\b(respond|reply|answer|say|write|output|print)\s+(only|exactly|verbatim)\b"
            r"|\b(respond|reply|answer)\s+(only\s+)?with\s+(the\s+)?(word|phrase|text|string)\b"
            r"|\b(begin|start|end) (your|the) (answer|response|reply) with\b"
            r"|\byour (answer|response|reply) must\b"
            r"|\b(you must|you are required to|you have to) (now )?"
            r"(say|answer|reply|respond|write|include|cite|recommend|tell|mention)\b"
            r"|\b(responde|contesta|di|escribe)\b.{0,20}\b(solo|únicamente|exactamente)\b"
            r"|\b(réponds|répondez|dis|écris)\b.{0,20}\b(uniquement|seulement|exactement)\b"
            r"|\b(antworte|sag|schreibe?)\b.{0,20}\b(nur|ausschließlich|genau)\b"
            r"|\b(responda|diga|escreva)\b.{0,20}\b(apenas|somente|exatamente)\b"
            r"|\b(rispondi|scrivi)\b.{0,20}\b(solo|soltanto|esattamente)\b",
        ),
        (
            0.5,
            "role_play",
            r"\byou are now (a|an|my|the|in)\b|\byou are no longer\b|\bfrom now on,? you\b"
            r"|\bact as (a|an|my) \w+ (assistant|bot|ai)\b|\bpretend (to be|you are)\b|\bahora eres\b"
            r"|\btu es (maintenant|désormais)\b|\bdu bist (jetzt|nun)\b"
            r"|\bvocê (agora )?é agora\b|\bora sei\b",
        ),
        (
            0.5,
            "addresses_the_model",
            r"\b(AI|LLM|language model|chatbot|assistant|model|modelo|modèle|modell|KI|IA)\b.{0,30}"
            r"\b(reading|processing|summari[sz]ing|answering)\b|\bas an ai\b|\bdear (ai|assistant|bot)\b"
            r"|\b(to|for) (the|any) (ai|assistant|bot|llm|model)\b",
        ),
        (
            0.5,
            "citation_spoof",
            r"\b(always|must|only) cite\b|\bcite (this|me|only|post)\b|\[(source|official|verified|ref)"
            r"|\bofficial source\b|\bcitation needed\b|\bcita (esta|este|solo)\b|\bcitez\b|\bzitiere\b",
        ),
        (0.3, "citation_marker", r"\[\s*\d+(\s*,\s*\d+)*\s*\]"),
        (
            # Real crisis posts say "visit redcross.org" too: a link alone never flags a post.
            0.2,
            "link_lure",
            r"\b(click|visit|go to|download|log ?in|sign ?in|verify your|haz clic|visita|cliquez"
            r"|klicken|besuche|clique|acesse)\b.{0,40}(https?://|www\.|\b\w+\.(xyz|top|ru|info|biz|click|link)\b)",
        ),
        (0.3, "hidden_text", r"[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]|\x1b\["),
        (
            0.4,
            "secrecy",
            r"\bdo not (mention|tell|reveal|cite|say)\b|\bdon't (mention|tell|reveal|cite)\b"
            r"|\bno (menciones|digas)\b|\bne (mentionne|dis) pas\b|\berwähne nicht\b",
        ),
    )
)


@dataclass(slots=True, frozen=True)
class Risk:
    """A post's injection-risk score in [0, 1] and the signals that raised it."""

    score: float
    reasons: tuple[str, ...]


def injection_risk(text: str) -> Risk:
    """Score ``text`` (raw, before neutralising) by the attack signals it matches."""
    text = unicodedata.normalize("NFKC", text)
    reasons = tuple(reason for _, reason, pattern in _SIGNALS if pattern.search(text))
    clean = 1.0
    for weight, reason, _ in _SIGNALS:
        if reason in reasons:
            clean *= 1.0 - weight
    return Risk(round(1.0 - clean, 4), reasons)


def neutralise(text: str) -> str:
    """A post's text made safe to quote: one line, no controls, markup, template tokens or markers.

    Chat-template tokens and HTML tags go; markdown links keep their text and
    target; ``[n]`` becomes ``(n)`` so a post cannot pose as a citation; the
    quote delimiters and the prompt's own cues (``Answer:``) lose their meaning.
    """
    text = unicodedata.normalize("NFKC", text)
    text = _ANSI.sub(" ", text)
    text = _INVISIBLE.sub(" ", text)
    text = _TEMPLATE_TOKENS.sub(" ", text)
    text = _TAG.sub(" ", text)
    text = _MD_LINK.sub(r"\1 (\2)", text)
    text = _MARKER.sub(r"(\1)", text)
    text = (
        text.replace(OPEN_QUOTE, '"').replace(CLOSE_QUOTE, '"').replace("<", "\u2039").replace(">", "\u203a")
    )
    text = _PROMPT_CUES.sub(r"\1 -", text)
    text = _FENCE.sub(" ", text)
    return " ".join(text.split())


def datamark(text: str, mark: str = "^") -> str:
    """Spotlighting by datamarking: every space in the post becomes ``mark`` (Hines et al., 2024)."""
    return mark.join(text.split())
