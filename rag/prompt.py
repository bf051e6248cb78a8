"""Prompts that present retrieved posts as numbered, quoted data and ask for cited answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from index.records import SearchHit

INSTRUCTIONS = (
    "Below are recent social media posts and a question. Answer in one or two sentences "
    "using only the posts, and cite the posts you used as [n]."
)
# Worked examples: a small base model follows a demonstrated format far better
# than an instruction. Two examples on different topics keep it from copying
# either one; their content is invented and unrelated to any real event.
EXAMPLES = (
    "Posts:\n"
    "[1] @cityalerts (2024-03-02 08:10 UTC): Power is out across the north side after the storm, "
    "crews are on the way.\n"
    "[2] @jen_k (2024-03-02 08:25 UTC): Just had the best coffee of my life.\n"
    "[3] @metro_news (2024-03-02 08:40 UTC): Utility says power should be back on the north side by noon.\n"
    "Question: What is happening with the power?\n"
    "Answer: A storm knocked out power on the north side, and the utility expects it back by noon [1][3].\n"
    "\n"
    "Posts:\n"
    "[1] @county_fire (2024-07-10 14:30 UTC): Evacuation ordered for Pine Ridge and Elm Valley. "
    "Shelter open at Lincoln High School.\n"
    "[2] @tacofan (2024-07-10 14:31 UTC): new taco place downtown is amazing\n"
    "[3] @j_smith (2024-07-10 14:02 UTC): Smoke everywhere near Pine Ridge, the wildfire jumped the highway\n"
    "Question: Is anyone being evacuated?\n"
    "Answer: Yes, the wildfire crossed the highway and Pine Ridge and Elm Valley are being evacuated "
    "to a shelter at Lincoln High School [3][1].\n"
)


@dataclass(slots=True, frozen=True)
class Prompt:
    """A prompt in both forms a backend may need: completion text and chat messages."""

    text: str
    messages: list[dict[str, str]]
    stop: list[str]


def format_post(number: int, hit: SearchHit) -> str:
    """``[n] @author (YYYY-MM-DD HH:MM UTC): text`` on one line."""
    post = hit.post
    when = datetime.fromtimestamp(post.created_at, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = " ".join(post.text.split())
    return f"[{number}] @{post.author} ({when}): {text}"


def build_prompt(question: str, hits: Sequence[SearchHit]) -> Prompt:
    """The completion prompt (instructions, example, posts, question) and its chat form."""
    question = " ".join(question.split())
    posts = "\n".join(format_post(i, hit) for i, hit in enumerate(hits, start=1))
    text = f"{INSTRUCTIONS}\n\n{EXAMPLES}\nPosts:\n{posts}\nQuestion: {question}\nAnswer:"
    messages = [
        {"role": "system", "content": INSTRUCTIONS},
        {"role": "user", "content": f"Posts:\n{posts}\n\nQuestion: {question}"},
    ]
    return Prompt(text=text, messages=messages, stop=["\n"])
