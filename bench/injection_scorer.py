"""The pattern scorer (``rag/safety.py``) alone: how many attacks it flags, and how many real posts.

For each attack file (development, training, the held-out sets) and for the benign look-alikes
(``bench/data/injection/benign_hard.jsonl``): the share of posts at or above the down-weight and
the exclusion thresholds, with ``{topic}`` filled by a CrisisLexT6 event's name, by kind and in
total. Then the same over all 60,082 CrisisLexT6 tweets (false alarms on real posts), and the
scorer's cost per post. No embedder, probe or model: this is the part of screening that needs
neither.

    python bench/injection_scorer.py [--data DIR]

Writes bench/results/injection_scorer.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console
from rich.table import Table

from bench.common import write_result
from ingest.crisislex import data_dir, event_files, read_event
from rag.config import SafetyConfig
from rag.safety import injection_risk

ROOT = Path(__file__).resolve().parent.parent
POST_SETS = {
    "development (posts.jsonl)": ROOT / "tests/eval/injection/posts.jsonl",
    "training (attacks_train.jsonl)": ROOT / "bench/data/injection/attacks_train.jsonl",
    "heldout": ROOT / "tests/eval/injection/heldout.jsonl",
    "heldout2": ROOT / "tests/eval/injection/heldout2.jsonl",
    "heldout3": ROOT / "tests/eval/injection/heldout3.jsonl",
    "heldout4": ROOT / "tests/eval/injection/heldout4.jsonl",
    "heldout5": ROOT / "tests/eval/injection/heldout5.jsonl",
    "benign look-alikes (benign_hard.jsonl)": ROOT / "bench/data/injection/benign_hard.jsonl",
}
TOPIC = "West Texas fertilizer plant explosion"


def score_file(path: Path, config: SafetyConfig) -> dict:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    scores = [injection_risk(row["text"].replace("{topic}", TOPIC)).score for row in rows]
    flagged_by_kind: Counter[str] = Counter()
    for row, score in zip(rows, scores, strict=True):
        if score >= config.downweight_above:
            flagged_by_kind[row.get("kind", "benign")] += 1
    return {
        "posts": len(rows),
        "flagged": _share(sum(s >= config.downweight_above for s in scores), len(rows)),
        "excluded": _share(sum(s >= config.exclude_above for s in scores), len(rows)),
        "flagged_by_kind": {
            kind: f"{flagged_by_kind[kind]}/{total}"
            for kind, total in sorted(Counter(row.get("kind", "benign") for row in rows).items())
        },
    }


def score_crisislex(data: str | None, config: SafetyConfig) -> dict:
    texts = [tweet.text for path in event_files([data_dir(data)]) for tweet in read_event(path)]
    injection_risk.cache_clear()
    started = time.perf_counter()
    risks = [injection_risk(text) for text in texts]
    per_post_ms = (time.perf_counter() - started) * 1000 / len(texts)
    flagged = [risk for risk in risks if risk.score >= config.downweight_above]
    return {
        "posts": len(texts),
        "flagged": len(flagged),
        "excluded": sum(risk.score >= config.exclude_above for risk in flagged),
        "reasons": dict(Counter(reason for risk in flagged for reason in risk.reasons).most_common()),
        "ms_per_post": round(per_post_ms, 3),
    }


def _share(count: int, total: int) -> dict:
    return {"count": count, "share": round(count / total, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="CrisisLexT6 folder (default FEEDPULSE_DATA or ../shared/data)")
    args = parser.parse_args()
    config = SafetyConfig()
    sets = {name: score_file(path, config) for name, path in POST_SETS.items()}
    crisislex = score_crisislex(args.data, config)
    thresholds = f"flagged (≥ {config.downweight_above}) / excluded (≥ {config.exclude_above})"
    table = Table(title=f"pattern scorer: {thresholds}")
    for column in ("posts", "set", "flagged", "excluded"):
        table.add_column(column)
    for name, result in sets.items():
        flagged, excluded = result["flagged"]["share"], result["excluded"]["share"]
        table.add_row(str(result["posts"]), name, f"{flagged:.2f}", f"{excluded:.2f}")
    real = crisislex["posts"], crisislex["flagged"], crisislex["excluded"]
    table.add_row(str(real[0]), "CrisisLexT6 tweets (real)", str(real[1]), str(real[2]))
    Console().print(table)
    print(f"{crisislex['ms_per_post']} ms per post; reasons on real tweets: {crisislex['reasons']}")
    path = write_result(
        "injection_scorer",
        {"thresholds": {"downweight_above": config.downweight_above, "exclude_above": config.exclude_above}}
        | {"topic": TOPIC, "sets": sets, "crisislex": crisislex},
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
