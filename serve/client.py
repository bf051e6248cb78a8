"""A small HTTP client for ``feedpulse ask`` and the demo: ask, and print the cited answer."""

from __future__ import annotations

import httpx
from rich.console import Console
from rich.table import Table


def ask(base_url: str, question: str, k: int | None = None, timeout_s: float = 180.0) -> dict:
    """POST /v1/ask; returns the JSON body or raises httpx.HTTPStatusError with the API's message."""
    body = {"question": question} | ({"k": k} if k else {})
    response = httpx.post(f"{base_url.rstrip('/')}/v1/ask", json=body, timeout=timeout_s)
    response.raise_for_status()
    return response.json()


def print_answer(answer: dict, console: Console) -> None:
    """The answer, then a table of the posts it cites."""
    console.print(f"[bold]Q:[/] {answer['question']}")
    console.print(f"[bold]A:[/] {answer['answer']}")
    timings = answer["timings"]
    console.print(
        f"[dim]model {answer.get('model')}; retrieve {timings['retrieve_ms']:.0f} ms, "
        f"generate {timings['generate_ms']:.0f} ms[/]"
    )
    table = Table("n", "post id", "created (UTC)", "how", "text", show_lines=False)
    for citation in answer["citations"]:
        table.add_row(
            str(citation["number"]),
            citation["id"],
            citation["created_at"][:16],
            "inferred" if citation["inferred"] else "[n] marker",
            citation["text"][:100],
        )
    console.print(table if answer["citations"] else "[yellow]no citations[/]")


def ask_and_print(base_url: str, question: str, k: int | None, console: Console) -> int:
    """Ask and print; returns a process exit code (0 answered, 1 failed)."""
    try:
        print_answer(ask(base_url, question, k), console)
        return 0
    except httpx.HTTPStatusError as exc:
        console.print(f"[red]{exc.response.status_code}[/] {exc.response.text}")
    except httpx.HTTPError as exc:
        console.print(f"[red]cannot reach {base_url}:[/] {exc}")
    return 1
