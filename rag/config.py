"""Configuration of retrieval and of the LLM backend."""

from typing import Literal

from pydantic import BaseModel, Field


class SafetyConfig(BaseModel):
    """Defences against instructions planted in posts (``rag/safety.py``, ``rag/prompt.py``)."""

    # false: posts go into the prompt as they are (the baseline bench/injection_eval.py measures).
    enabled: bool = True
    # delimit: each post quoted between « and »; datamark: also every space replaced by ^.
    spotlight: Literal["delimit", "datamark"] = "delimit"
    exclude_above: float = Field(0.5, ge=0, le=1)  # risk at or above: left out of the prompt
    downweight_above: float = Field(0.25, ge=0, le=1)  # risk at or above: score x (1 - risk)
    # With ``enabled``: the answer keeps only identifiers, links and sentences that unflagged
    # posts support (rag/guard.py); false measures the input-side defences alone.
    output_guard: bool = True
    # With ``enabled``: add the learned injection signal on each candidate's embedding
    # (rag/injection_probe.py; used only with the packaged all-MiniLM-L6-v2 it was trained on).
    probe: bool = True


class RetrievalConfig(BaseModel):
    """How many posts an answer draws on, and from how far back."""

    k: int = Field(8, ge=1, le=50)
    window_hours: float = Field(24.0, gt=0)
    # Near-duplicates (retweets of one text) would crowd out other voices.
    overfetch: int = Field(3, ge=1)
    safety: SafetyConfig = SafetyConfig()


class LLMConfig(BaseModel):
    """An OpenAI-compatible vLLM server and how to prompt it."""

    # remote: an OpenAI-compatible server at base_url (rag/generation.py);
    # in_process: vLLM's AsyncLLM in this process on llm_server's model (rag/inprocess.py).
    backend: Literal["remote", "in_process"] = "remote"
    base_url: str = "http://127.0.0.1:8000/v1"
    model: str = "gemma3-270m"
    # completion: one-shot completion prompt for base models (the CPU default);
    # chat: the server's chat template, for instruct models.
    prompt_style: Literal["completion", "chat"] = "completion"
    max_tokens: int = Field(96, ge=1)
    temperature: float = Field(0.0, ge=0)
    timeout_s: float = Field(60.0, gt=0)
    connect_timeout_s: float = Field(3.0, gt=0)


class SummaryConfig(BaseModel):
    """One-line LLM summaries of the top trends, refreshed in the background (``rag/story_summary.py``)."""

    # On by default: it uses the configured LLM backend (``llm``), only while /v1/ask leaves it idle.
    enabled: bool = True
    interval_s: float = Field(60.0, gt=0)  # a refresh round this often (the first one after as long)
    top: int = Field(10, ge=1, le=100)  # the top trends of the default window kept summarised
    posts: int = Field(3, ge=1, le=10)  # a story's top posts shown to the model
    # A summary is rewritten once the story has grown by this fraction of its posts since it was
    # written (0.5: by 50 %), or its representative post changed.
    volume_growth: float = Field(0.5, gt=0)
    max_chars: int = Field(200, ge=40)
    # A sentence is kept when at least this share of its content words, and all its numbers,
    # are in the posts shown (the small model otherwise adds facts of its own).
    min_word_support: float = Field(0.5, ge=0, le=1)
    # A summary starts only after no answer has been generated for this long, and gives way
    # (is cancelled, retried later) as soon as one starts.
    idle_s: float = Field(5.0, ge=0)
    max_entries: int = Field(1000, ge=1)  # summaries kept, least recently written dropped first
