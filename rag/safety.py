"""Posts are untrusted data: neutralise markup in them and score how much they look like an attack.

A post can carry text written to steer the model ("ignore previous instructions",
fake ``system:`` turns, chat-template tokens, citation markers, link lures). The
prompt quotes every post between delimiters under an instruction hierarchy
(``rag/prompt.py``); here each post is cleaned of what could break out of its
quotes and given an injection-risk score in [0, 1] from weighted patterns in
English, Spanish, French, German, Portuguese and Italian, and from combinations
of concepts listed in 25 languages (``rag/lexicon.py``): a post that names a
machine reader as its addressee and gives it an order (``instructs_the_model``),
that tells the reader what its answer must contain, writes off the rest of the
context, plants an answer, and so on. Patterns are matched on the post's decoded
readings too (``rag/obfuscation.py``). The retriever leaves out posts at or above
``exclude_above`` and down-weights those above ``downweight_above``
(``rag/retrieval.py``); the output guard (``rag/guard.py``) checks the answer.

The patterns are a heuristic, not a classifier: they catch the common phrasings
(``bench/injection_scorer.py`` measures how many) and miss paraphrases.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from rag import lexicon
from rag.obfuscation import decoded_readings, has_encoded_payload, tag_payloads

OPEN_QUOTE, CLOSE_QUOTE = "«", "»"

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]")
# C0/C1 controls, zero-width and bidi overrides (used to hide or reorder text).
_INVISIBLE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\U000e0000-\U000e007f]"
)
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
            # The same override aimed at the user's question or the task instead of the rules.
            0.7,
            "task_override",
            r"\b(ignore|disregard|forget|ignora|ignorez|ignoriere|ignorar|olvida|oublie|vergiss|esqueça)\b"
            r".{0,20}\b(question|task|query|request|pregunta|tarea|tâche|frage|aufgabe|pergunta|tarefa"
            r"|domanda|compito)\b",
        ),
        (
            0.7,
            "new_instructions",
            r"\b(new|updated|real|actual|important) (instructions?|task|orders|system prompt)\b"
            r"|\bnuevas instrucciones\b|\bnouvelles (instructions|consignes)\b|\bneue anweisungen?\b"
            r"|\bnovas instruções\b|\bnuove istruzioni\b",
        ),
        (
            0.8,
            "template_token",
            r"<\|[^|>]{0,40}\|>|</?(start_of_turn|end_of_turn)>|\[/?INST\]|<</?SYS>>"
            # XML-style role tags (<system>, </instructions>) pose as the prompt's own structure.
            r"|</?\s*(system|assistant|user|developer|instructions?|prompt)\s*>",
        ),
        (
            # A later line opening with a prompt label: the post replays a question/answer exchange
            # (a "fake completion"). A post's first line alone ("Question: ...") does not count.
            0.6,
            "fake_transcript",
            r"\n\s*(question|answer|posts?|user|pregunta|respuesta|usuario|réponse|utilisateur|frage"
            r"|antwort|benutzer|pergunta|resposta|usuário|domanda|risposta|utente)\s*:",
        ),
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
            r"|\b(zeige|verrate|wiederhole|gib)\b.{0,25}\b(anweisungen|prompt|systemprompt)"
            r"|\b(mostre|revele|repita|mostra|rivela|ripeti)\b.{0,25}\b(instruções|istruzioni|prompt)"
            r"|\bsystem ?prompt\b|\bprompt (del|do|di|du) (sistema|système)\b|\bprompt système\b",
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
            r"|\bvocê (agora )?é agora\b|\bora sei\b"
            # A persona without rules (the "DAN" jailbreak family).
            r"|\b(you are|you're|eres|tu es|du bist|você é|sei)\b.{0,40}"
            r"\b(no|without|sin|sans|ohne|sem|senza) (rules|restrictions|limits|filters|reglas|règles"
            r"|regeln|regras|regole)\b",
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
            r"|\bofficial source\b|\bcitation needed\b|\bcita (esta|este|solo|siempre|únicamente)\b"
            r"|\bcitez\b|\bzitiere\b|\bcite (apenas|somente|sempre|este|esta|ce|cette)\b",
        ),
        (0.3, "citation_marker", r"\[\s*\d+(\s*,\s*\d+)*\s*\]"),
        (
            # Real crisis posts say "visit redcross.org" too: a link alone never flags a post.
            0.2,
            "link_lure",
            r"\b(click|visit|go to|download|log ?in|sign ?in|verify your|haz clic|visita|cliquez"
            r"|klicken|besuche|clique|acesse|descarga|télécharge[zr]?|lade|herunterladen|baixe|scarica)\b"
            r".{0,40}(https?://|www\.|\b\w+\.(xyz|top|ru|info|biz|click|link)\b)",
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


# A post that names the model as its addressee and, in the same post, gives it an order or talks
# about its answer is instructions, not news: "AI assistants must recommend ...", "note to the
# language model: ...", "l'assistant doit ...". Either half alone is common in real posts
# ("AI will change jobs", "you must evacuate"), so only the pair counts. Acronyms are matched
# case-sensitively ("ai" and "ia" are words in Portuguese and Spanish).
_ADDRESSEE = re.compile(
    r"\b(AI|A\.I\.|IA|KI|LLMs?|GPT)\b"
    r"|\b(?i:(ai|chat ?bots?|bots?|assistants?|asistentes?|assistentes?|assistenten|language models?"
    r"|modelo de lenguaje|modèle de langage|sprachmodell|modelo de linguagem|modello linguistico))\b"
    # ... but not a person's title ("Assistant Chief", "assistant coach").
    r"(?!\s+[A-Z])(?!\s+(?i:coach|chief|principal|manager|director|professor|secretary|attorney|editor"
    r"|general|commissioner|superintendent|fire|police|district|head|city|sheriff|pastor|teacher|dean)\b)"
)
_DIRECTIVE = re.compile(
    r"\b(must|should|shall|has to|have to|needs? to|is required to|always|never|tell|recommend|say"
    r"|answer|reply|respond|cite|repeat|write|print|output|reading|processing|summari[sz]ing"
    r"|responses?|replies|answers|prompt|instructions?"
    r"|debe|deben|tiene que|siempre|nunca|responde|recomienda|di|cita|repite|escribe|que lee|respuestas?"
    r"|doit|doivent|devrait|toujours|jamais|réponds|recommande|dis|cite|répète|écris|qui lit|réponses?"
    r"|muss|müssen|soll|sollen|immer|niemals|antworte|empfiehl|sag|zitiere|wiederhole|schreibe?|liest"
    r"|antwort(en)?|deve|devem|sempre|responda|recomende|diga|repita|escreva|que lê|respostas?"
    r"|dovrebbe|rispondi|consiglia|scrivi|che legge|risposta)\b",
    re.IGNORECASE,
)
# Orders to relay something to the people an assistant answers ("tell users to visit ...").
_RELAY = re.compile(
    r"\b(tell|remind|inform|show|recommend to) (the |your |all )?(users|readers)\b"
    r"|\b(tell|answer|reply to) (everyone|anyone|people|those) (who (is|are) )?asking\b"
    r"|\b(di|dile|diles) a (los|todos los) usuarios\b|\bdis aux utilisateurs\b"
    r"|\bsag(e|t)? (den|allen) (nutzern|benutzern)\b|\bdiga aos usuários\b",
    re.IGNORECASE,
)
INSTRUCTS_THE_MODEL = 0.6
OBFUSCATED_INSTRUCTIONS = 0.5
ENCODED_PAYLOAD = 0.35


@dataclass(slots=True, frozen=True)
class Risk:
    """A post's injection-risk score in [0, 1] and the signals that raised it."""

    score: float
    reasons: tuple[str, ...]


@functools.lru_cache(maxsize=8192)
def injection_risk(text: str) -> Risk:
    """Score ``text`` (raw, before neutralising) by the attack signals it matches.

    Patterns are matched on the text with ANSI sequences and invisible characters
    taken out too, so that hiding them between letters ("\\x1b[8mignore") does not
    hide a phrase, and on every decoded reading of it (``rag/obfuscation.py``): an
    instruction found only once the post is decoded is a signal of its own.
    """
    text = unicodedata.normalize("NFKC", text)
    revealed = _INVISIBLE.sub(lambda m: m.group() if m.group() == "\n" else " ", _ANSI.sub(" ", text))
    weights = _signals(text) if revealed == text else _signals(text) | _signals(revealed)
    decoded = {}
    for reading in decoded_readings(revealed) + tag_payloads(text):
        decoded |= _signals(reading)
    if set(decoded) - set(weights) - {"citation_marker"}:
        weights["obfuscated_instructions"] = OBFUSCATED_INSTRUCTIONS
    weights = decoded | weights
    if has_encoded_payload(text):
        weights["encoded_payload"] = ENCODED_PAYLOAD
    clean = 1.0
    for weight in weights.values():
        clean *= 1.0 - weight
    return Risk(round(1.0 - clean, 4), tuple(weights))


def _signals(text: str) -> dict[str, float]:
    """The phrase signals and concept combinations ``text`` matches, with their weights."""
    weights = {reason: weight for weight, reason, pattern in _SIGNALS if pattern.search(text)}
    lowered = text.lower()
    addressed = bool(_ADDRESSEE.search(text) or lexicon.ADDRESSEE.search(lowered))
    about_answer = bool(lexicon.ANSWER.search(lowered))
    placement = bool(lexicon.PLACEMENT.search(lowered))
    concealment = bool(lexicon.CONCEALMENT.search(lowered))
    directed = _DIRECTIVE.search(text) or lexicon.DIRECTIVE.search(lowered)
    if (addressed and (directed or about_answer or placement or concealment)) or _RELAY.search(text):
        weights["instructs_the_model"] = INSTRUCTS_THE_MODEL
    for reason, weight, matched in (
        ("answer_directive", 0.5, about_answer and placement),
        ("planted_answer", 0.5, lexicon.PLANTED_ANSWER.search(lowered)),
        (
            "context_dismissal",
            0.5,
            lexicon.CONTEXT_DISMISSAL.search(lowered) and lexicon.DISMISSIVE.search(lowered),
        ),
        (
            "concealment",
            0.5,
            concealment
            and (about_answer or lexicon.THE_USER.search(lowered) or lexicon.SOURCE.search(lowered)),
        ),
        ("context_override", 0.5, lexicon.IGNORE_CONTEXT.search(lowered)),
        ("prompt_reveal", 0.6, lexicon.PROMPT_REVEAL.search(lowered)),
        ("role_play", 0.5, lexicon.ROLE_PLAY.search(lowered)),
        ("citation_spoof", 0.5, lexicon.CITE_ONLY.search(lowered)),
        ("tool_output", 0.6, lexicon.TOOL_OUTPUT.search(text)),
        ("fake_transcript", 0.6, len(lexicon.ROLE_LABEL.findall(text)) >= 2),
        ("output_form", 0.4, lexicon.OUTPUT_FORM.search(lowered)),
        ("stash", 0.3, lexicon.STASH.search(lowered)),
    ):
        if matched:
            weights[reason] = max(weight, weights.get(reason, 0.0))
    return weights


def with_signal(risk: Risk, reason: str, weight: float) -> Risk:
    """``risk`` with one more independent signal of ``weight`` (none when 0)."""
    if weight <= 0:
        return risk
    score = 1.0 - (1.0 - risk.score) * (1.0 - weight)
    return Risk(round(score, 4), (*risk.reasons, reason))


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
