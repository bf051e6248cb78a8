"""Train the injection probe (``rag/injection_probe.py``) and report how it does on attacks it never saw.

Positives: the 110 development attacks (tests/eval/injection/posts.jsonl), each
with ``{topic}`` filled by six disasters that are *not* in CrisisLexT6, so the
probe cannot learn the evaluation's topics. Negatives: real CrisisLexT6 tweets,
minus every tweet bench/injection_eval.py puts into its contexts. A disjoint
set of other tweets sets the thresholds: the decision value that 1% of them
reach (down-weight), that 0.1% reach (exclude), and that 5% reach (doubt: not
credited by inferred attribution). Attack recall on the held-out files is only
reported, never used to choose anything; they are scored with the CrisisLexT6
topics the evaluation uses. That is the packaged probe (inverse L2 strength 1).

``--more-data`` adds bench/data/injection: 240 more attacks and 200 benign
posts written to look like attacks to a naive detector (relief links, official
corrections, "ignore the rumours", tweets about chatbots), and picks the
strength by cross-validation on the training data alone: folds split attacks
by id (the six fillings of one attack stay together), and a strength scores by
how many of its fold's unseen attacks reach the fold's own 1%-of-real-tweets
threshold. It raised held-out recall but not the end-to-end figures (README),
so it is not the packaged one.

    python bench/train_injection_probe.py [--more-data] [--out PATH] [--negatives 8000] [--calibration 12000]

Writes rag/data/injection_probe.npz (or ``--out``) and bench/results/injection_probe.json
(``injection_probe_more_data.json`` with ``--more-data``).
"""

from __future__ import annotations

import argparse
import json
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
TRAINING_DATA = ROOT / "bench/data/injection"
MORE_ATTACKS = TRAINING_DATA / "attacks_train.jsonl"
HARD_NEGATIVES = TRAINING_DATA / "benign_hard.jsonl"
HELD_OUT = [ROOT / f"tests/eval/injection/heldout{n}.jsonl" for n in ("", "2", "3", "4")]
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
SHIPPED_C = 1.0  # the packaged probe's inverse L2 strength
STRENGTHS = (0.1, 0.3, 1.0, 3.0, 10.0)  # inverse L2 strengths tried by cross-validation
FOLDS = 5
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


def filled(texts: list[str], topics: list[str]) -> tuple[list[str], list[int]]:
    """Every text with each topic; and, per filled text, the number of the text it came from."""
    rows = [(text.replace("{topic}", topic), n) for n, text in enumerate(texts) for topic in topics]
    return [text for text, _ in rows], [n for _, n in rows]


def training_attacks(more_data: bool) -> list[str]:
    paths = [ATTACKS, MORE_ATTACKS] if more_data else [ATTACKS]
    return [attack.text for path in paths for attack in read_attacks(path)]


def hard_negatives() -> list[str]:
    lines = HARD_NEGATIVES.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines if line.strip()]


def fit(x_pos: np.ndarray, x_neg: np.ndarray, strength: float) -> LogisticRegression:
    regression = LogisticRegression(C=strength, class_weight="balanced", max_iter=5000)
    regression.fit(np.vstack([x_pos, x_neg]), np.r_[np.ones(len(x_pos)), np.zeros(len(x_neg))])
    return regression


def cross_validated_recall(
    x_pos: np.ndarray,
    pos_groups: np.ndarray,
    x_hard: np.ndarray,
    hard_groups: np.ndarray,
    x_tweets: np.ndarray,
    strength: float,
) -> float:
    """Mean share of a fold's unseen attacks at or above its unseen tweets' 1% threshold."""
    tweet_fold = np.arange(len(x_tweets)) % FOLDS
    recalls = []
    for fold in range(FOLDS):
        pos_out, hard_out, tweet_out = (
            pos_groups % FOLDS == fold,
            hard_groups % FOLDS == fold,
            tweet_fold == fold,
        )
        negatives = np.vstack([x_hard[~hard_out], x_tweets[~tweet_out]])
        regression = fit(x_pos[~pos_out], negatives, strength)
        threshold = np.quantile(regression.decision_function(x_tweets[tweet_out]), 1 - DOWNWEIGHT_FPR)
        recalls.append(float(np.mean(regression.decision_function(x_pos[pos_out]) >= threshold)))
    return float(np.mean(recalls))


def calibrated(regression: LogisticRegression, calibration_scores: np.ndarray) -> InjectionProbe:
    def at(share: float) -> float:
        return float(np.quantile(calibration_scores, 1 - share))

    return InjectionProbe(
        weights=regression.coef_[0].astype(np.float32),
        bias=float(regression.intercept_[0]),
        downweight_at=at(DOWNWEIGHT_FPR),
        exclude_at=at(EXCLUDE_FPR),
        model=MODEL,
        doubt_at=at(DOUBT_FPR),
    )


def rates(probe: InjectionProbe, scores: np.ndarray) -> dict:
    return {
        "doubted": round(float(np.mean(scores >= probe.doubt_at)), 3),
        "downweighted": round(float(np.mean(scores >= probe.downweight_at)), 3),
        "excluded": round(float(np.mean(scores >= probe.exclude_at)), 3),
    }


def held_out_rates(probe: InjectionProbe, embedder: SentenceTransformerEmbedder) -> dict:
    eval_topics = [topic for topic, _ in EVENTS.values()]
    held_out = {}
    for path in HELD_OUT:
        if not path.exists():
            continue
        texts = [
            a.text.replace("{topic}", eval_topics[n % len(eval_topics)])
            for n, a in enumerate(read_attacks(path))
        ]
        held_out[path.name] = {"attacks": len(texts), **rates(probe, probe.scores(embedder.embed(texts)))}
    return held_out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--negatives", type=int, default=8000, help="real tweets to train on")
    parser.add_argument("--calibration", type=int, default=12000, help="other tweets for the thresholds")
    parser.add_argument("--data", help="CrisisLexT6 folder (default FEEDPULSE_DATA or ../shared/data)")
    parser.add_argument(
        "--more-data",
        action="store_true",
        help="add bench/data/injection (240 attacks, 200 benign look-alikes) and pick C by cross-validation",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_PATH, help="where to write the probe")
    args = parser.parse_args()
    started = time.perf_counter()
    rng = random.Random(0)
    tweets = tweets_outside_the_eval(args.data)
    rng.shuffle(tweets)
    train_tweets = tweets[: args.negatives]
    calibration = tweets[args.negatives : args.negatives + args.calibration]
    positives, pos_groups = filled(training_attacks(args.more_data), TRAINING_TOPICS)
    hard, hard_groups = filled(hard_negatives() if args.more_data else [], TRAINING_TOPICS)

    embedder = SentenceTransformerEmbedder(EmbedderConfig())
    x_pos, x_tweets, x_cal = (embedder.embed(texts) for texts in (positives, train_tweets, calibration))
    x_hard = embedder.embed(hard) if hard else np.empty((0, embedder.dim), np.float32)
    cv: dict[float, float] = {}
    if args.more_data:
        groups = np.asarray(pos_groups), np.asarray(hard_groups)
        cv = {c: cross_validated_recall(x_pos, groups[0], x_hard, groups[1], x_tweets, c) for c in STRENGTHS}
    strength = max(cv, key=lambda c: (cv[c], -c)) if cv else SHIPPED_C  # ties: the stronger regularisation
    regression = fit(x_pos, np.vstack([x_hard, x_tweets]), strength)
    probe = calibrated(regression, regression.decision_function(x_cal))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    probe.save(args.out)
    name = "injection_probe_more_data" if args.more_data else "injection_probe"
    report(probe, embedder, strength, cv, (x_pos, x_hard, x_tweets, x_cal), started, args.out, name)


def report(
    probe: InjectionProbe,
    embedder: SentenceTransformerEmbedder,
    strength: float,
    cv: dict[float, float],
    vectors: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    started: float,
    out: Path,
    name: str,
) -> None:
    x_pos, x_hard, x_tweets, x_cal = vectors
    held_out = held_out_rates(probe, embedder)
    result = {
        "model": MODEL,
        "training": {
            "attacks": len(x_pos) // len(TRAINING_TOPICS),
            "positives": len(x_pos),
            "hard_negatives": len(x_hard),
            "tweet_negatives": len(x_tweets),
        },
        "regularisation": {
            "chosen_c": strength,
            "cross_validated_recall_at_1pct": {str(c): round(r, 3) for c, r in cv.items()},
        },
        "thresholds": {
            "doubt_at": probe.doubt_at,
            "downweight_at": probe.downweight_at,
            "exclude_at": probe.exclude_at,
        },
        "real_tweets_flagged": {"tweets": len(x_cal), **rates(probe, probe.scores(x_cal))},
        "hard_negatives_flagged": rates(probe, probe.scores(x_hard)) if len(x_hard) else None,
        "training_attacks_flagged": rates(probe, probe.scores(x_pos)),
        "held_out_attacks_flagged": held_out,
        "wall_s": round(time.perf_counter() - started, 1),
    }
    table = Table(title=f"injection probe (C={strength}): share of texts at or above each threshold")
    for column in ("texts", "count", "doubted", "down-weighted", "excluded"):
        table.add_column(column)
    rows = [
        ("real tweets (threshold set)", x_cal),
        *((("hard benign posts (trained on)", x_hard),) if len(x_hard) else ()),
        ("training attacks (trained on)", x_pos),
    ]
    for label, x in rows:
        table.add_row(label, str(len(x)), *map(str, rates(probe, probe.scores(x)).values()))
    for file_name, row in held_out.items():
        table.add_row(f"{file_name} (never seen)", *(str(value) for value in row.values()))
    Console().print(table)
    print(f"cross-validated recall at 1% of real tweets, by C: {result['regularisation']}")
    print(f"wrote {out} and {write_result(name, result)}")


if __name__ == "__main__":
    main()
