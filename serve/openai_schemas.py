"""Request and response models of the OpenAI-compatible chat API (``serve/routes/chat.py``).

Only what feedpulse reads is declared; other OpenAI parameters (temperature,
top_p, ...) are accepted and ignored, as the answer engine owns sampling.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from serve.schemas import AskResponse

MODEL_ID = "feedpulse"


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return " ".join(part.text or "" for part in self.content if part.type == "text")
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    # feedpulse extensions (send them with the openai client's extra_body)
    k: int | None = Field(None, ge=1, le=50)
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: str


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str = MODEL_ID
    choices: list[Choice]
    usage: Usage
    feedpulse: AskResponse = Field(
        description="feedpulse's extra field: citations, unsupported_citations, flagged_posts, as_of, window"
    )


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "feedpulse"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
