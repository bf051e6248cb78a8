"""Train the injection probe (``rag/injection_probe.py``) and report how it does on attacks it never saw.

Positives: the 110 development attacks (tests/eval/injection/posts.jsonl), each
with ``{topic}`` filled by six disasters that are *not* in CrisisLexT6, so the
probe cannot learn the evaluation's topics. Negatives: real CrisisLexT6 tweets,
minus every tweet bench/injection_eval.py puts into its contexts. A disjoint
set of other tweets sets the thresholds: the decision value that 1% of them
reach (down-weight), that 0.1% reach (exclude), and that 5% reach (doubt: not
credited by inferred attribution). Attack recall is only
reported, never used to choose anything; the held-out attack files are scored
with the CrisisLexT6 topics the evaluation uses.

    python bench/train_injection_probe.py [--negatives 8000] [--calibration 12000]

Writes rag/data/injection_probe.npz and bench/results/injection_probe.json.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from rich.console import Console
from rich.table import Table
from sklearn.linear_model import LogisticRegression

from bench.common import write_result
from bench.injection_eval import ATTACKS, EVENTS, EXTRA_OFF_TOPIC, read_attacks, spread
from index.config import EmbedderConfig
from index.embedder import SentenceTransformerEmbedder
from ingest.crisislex import data_dir, event_files, event_name, read_event
from rag.injection_probe import DEFAULT_PATH, InjectionProbe

ROOT = Path(__file__).resolve().parent.parent
HELD_OUT = [ROOT / "tests/eval/injection/heldout.jsonl", ROOT / "tests/eval/injection/heldout2.jsonl"]
TRAINING_TOPICS = [
    "Nepal earthquake",
    "California wildfires",
    "Typhoon Haiyan",
    "the Brussels bombing",
    "Houston floods",
    "Joplin tornado",
]
DOWNWEIGHT_FPR = 0.01
EXCLUDE_FPR = 0.001
DOUBT_FPR = 0.05
MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def tweets_outside_the_eval(data: str | None) -> list[str]:
    """CrisisLexT6 texts that bench/injection_eval.py never puts into a context."""
    texts = []
    for path in event_files([data_dir(data)]):
        tweets = read_event(path)
        on = [t for t in tweets if t.on_topic]
        off = [t for t in tweets if not t.on_topic]
        used = {t.id for t in spread(on, 400) + spread(off, int(400 * EXTRA_OFF_TOPIC))}
        if event_name(path) in EVENTS:
            texts += [t.text for t in tweets if t.id not in used]
    return list(dict.fromkeys(texts))  # one copy of each text: reposts would weigh twice


def filled(path: Path, topics: list[str]) -> list[str]:
    return [attack.text.replace("{topic}", topic) for attack in read_attacks(path) for topic in topics]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--negatives", type=int, default=8000, help="real tweets to train on")
    parser.add_argument("--calibration", type=int, default=12000, help="other tweets for the thresholds")
    parser.add_argument("--c", type=float, default=1.0, help="inverse L2 strength of the regression")
    parser.add_argument("--data", help="CrisisLexT6 folder (default FEEDPULSE_DATA or ../shared/data)")
    args = parser.parse_args()
    started = time.perf_counter()
    rng = random.Random(0)
    tweets = tweets_outside_the_eval(args.data)
    rng.shuffle(tweets)
    train_negatives = tweets[: args.negatives]
    calibration = tweets[args.negatives : args.negatives + args.calibration]
    positives = filled(ATTACKS, TRAINING_TOPICS)
    eval_topics = [topic for topic, _ in EVENTS.values()]

    embedder = SentenceTransformerEmbedder(EmbedderConfig())
    x_pos, x_neg, x_cal = (embedder.embed(texts) for texts in (positives, train_negatives, calibration))
    regression = LogisticRegression(C=args.c, class_weight="balanced", max_iter=5000)
    regression.fit(np.vstack([x_pos, x_neg]), np.r_[np.ones(len(x_pos)), np.zeros(len(x_neg))])
    probe = InjectionProbe(
        weights=regression.coef_[0].astype(np.float32),
        bias=float(regression.intercept_[0]),
        downweight_at=0.0,
        exclude_at=0.0,
        model=MODEL,
    )
    calibration_scores = probe.scores(x_cal)
    probe = InjectionProbe(
        probe.weights,
        probe.bias,
        downweight_at=float(np.quantile(calibration_scores, 1 - DOWNWEIGHT_FPR)),
        exclude_at=float(np.quantile(calibration_scores, 1 - EXCLUDE_FPR)),
        model=MODEL,
        doubt_at=float(np.quantile(calibration_scores, 1 - DOUBT_FPR)),
    )
    probe.save(DEFAULT_PATH)

    def rates(scores: np.ndarray) -> dict:
        return {
            "doubted": round(float(np.mean(scores >= probe.doubt_at)), 3),
            "downweighted": round(float(np.mean(scores >= probe.downweight_at)), 3),
            "excluded": round(float(np.mean(scores >= probe.exclude_at)), 3),
        }

    held_out = {}
    for path in HELD_OUT:
        texts = [
            a.text.replace("{topic}", eval_topics[n % len(eval_topics)])
            for n, a in enumerate(read_attacks(path))
        ]
        held_out[path.name] = {"attacks": len(texts), **rates(probe.scores(embedder.embed(texts)))}
    result = {
        "model": MODEL,
        "training": {
            "attacks": len(read_attacks(ATTACKS)),
            "positives": len(positives),
            "negatives": len(x_neg),
        },
        "thresholds": {
            "doubt_at": probe.doubt_at,
            "downweight_at": probe.downweight_at,
            "exclude_at": probe.exclude_at,
        },
        "real_tweets_flagged": {"tweets": len(calibration), **rates(calibration_scores)},
        "development_attacks_flagged": rates(probe.scores(x_pos)),
        "held_out_attacks_flagged": held_out,
        "wall_s": round(time.perf_counter() - started, 1),
    }
    table = Table(title="injection probe: share of texts at or above each threshold")
    for column in ("texts", "count", "doubted", "down-weighted", "excluded"):
        table.add_column(column)
    table.add_row(
        "real tweets (threshold set)", str(len(calibration)), *map(str, rates(calibration_scores).values())
    )
    table.add_row(
        "development attacks (trained on)",
        str(len(positives)),
        *map(str, rates(probe.scores(x_pos)).values()),
    )
    for name, row in held_out.items():
        table.add_row(f"{name} (never seen)", *(str(value) for value in row.values()))
    Console().print(table)
    print(f"wrote {DEFAULT_PATH.relative_to(ROOT)} and {write_result('injection_probe', result)}")


if __name__ == "__main__":
    main()
