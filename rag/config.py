"""Configuration of retrieval and of the LLM backend."""

from typing import Literal

from pydantic import BaseModel, Field


class RetrievalConfig(BaseModel):
    """How many posts an answer draws on, and from how far back."""

    k: int = Field(8, ge=1, le=50)
    window_hours: float = Field(24.0, gt=0)
    # Near-duplicates (retweets of one text) would crowd out other voices.
    overfetch: int = Field(3, ge=1)


class LLMConfig(BaseModel):
    """An OpenAI-compatible vLLM server and how to prompt it."""

    base_url: str = "http://127.0.0.1:8000/v1"
    model: str = "gemma3-270m"
    # completion: one-shot completion prompt for base models (the CPU default);
    # chat: the server's chat template, for instruct models.
    prompt_style: Literal["completion", "chat"] = "completion"
    max_tokens: int = Field(96, ge=1)
    temperature: float = Field(0.0, ge=0)
    timeout_s: float = Field(60.0, gt=0)
    connect_timeout_s: float = Field(3.0, gt=0)
