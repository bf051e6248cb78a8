from rag.prompt import build_prompt
from tests.rag.helpers import hit


def test_completion_prompt_numbers_posts_and_ends_with_answer_cue():
    prompt = build_prompt("  What   happened? ", [hit("a", "Line one\nline two"), hit("b", "Other")])
    assert prompt.text.endswith("Question: What happened?\nAnswer:")
    assert "[1] @a (2013-04-15 04:26 UTC): Line one line two\n[2] @a" in prompt.text
    assert prompt.stop == ["\n"]


def test_chat_messages_carry_the_same_posts():
    prompt = build_prompt("Why?", [hit("a", "Because")])
    assert prompt.messages[0]["role"] == "system"
    assert "[1] @a" in prompt.messages[1]["content"] and "Question: Why?" in prompt.messages[1]["content"]
