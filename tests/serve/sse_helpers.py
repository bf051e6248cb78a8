"""Parsing server-sent events in tests."""

from __future__ import annotations

import json


def parse_events(text: str) -> list[tuple[str | None, object]]:
    """(event name or None, JSON data or the raw string) for each event in a response body."""
    events = []
    for block in text.strip().split("\n\n"):
        name, data = None, []
        for line in block.splitlines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
        raw = "\n".join(data)
        try:
            events.append((name, json.loads(raw)))
        except ValueError:
            events.append((name, raw))
    return events
