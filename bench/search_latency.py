"""Search latency at scale: exact (flat) vs approximate (IVF) search through ``PostStore.search``.

Data (synthetic, shaped like all-MiniLM-L6-v2 post embeddings: 384-d, unit norm): a
two-level Gaussian mixture on the sphere. 200 topic directions; 4,000 sub-topics
(cosine 0.6 to their topic, Zipf-like sizes); each post at cosine 0.6 to its sub-topic
plus isotropic noise. Queries are fresh draws from the same mixture. Posts arrive
in creation order over 30 days, so the store's time segments (``--segment-posts``
each, default 200k) hold about 6 days each at 1M; "24h" searches the last day (the
API's default window) and reaches one or two segments, "1h" the last hour (a narrow
window: IVF then probes every list of the segment it reaches, see index/ann.py).

Baseline, measured in the same run on the same data and queries: the exact flat index.
Recall@10 of IVF is against its answers (unwindowed: one batched exact search of all
queries, as timing them one by one outlasts the budget at 1M); the ratio is IVF p99 /
exact p99. Each (index, size) case runs in its own process so that RSS deltas do not mix.

    python bench/search_latency.py [--sizes 100000 1000000] [--queries 1000]
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import faiss
import numpy as np
import psutil
from rich.console import Console
from rich.table import Table

from bench.common import write_result
from index import ann
from index.config import IndexConfig
from index.records import PostRecord
from index.store import PostStore

DIM = 384
TOPICS, SUBTOPICS = 200, 4_000
SUBTOPIC_COS, POST_COS = 0.6, 0.6
DAYS = 30
DAY_S = 86_400.0
T0 = 1_700_000_000.0
K = 10
BATCH = 2_048  # posts per apply while building
MUTATE_BATCH = 256  # the ingest micro-batch: deletes and replaces arrive this way
DATA = (
    f"{TOPICS} topics x {SUBTOPICS // TOPICS} sub-topics (Zipf sizes, cos {SUBTOPIC_COS} to topic), "
    f"posts at cos {POST_COS} to their sub-topic, {DIM}-d unit vectors, created over {DAYS} days"
)


class Mixture:
    """The synthetic embedding distribution; every draw is reproducible from its seed."""

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        topics = _unit(rng.standard_normal((TOPICS, DIM), dtype=np.float32))
        parents = rng.integers(TOPICS, size=SUBTOPICS)
        self.centres = _blend(topics[parents], SUBTOPIC_COS, rng)
        weights = 1.0 / np.arange(1, SUBTOPICS + 1) ** 0.8
        self.weights = rng.permutation(weights / weights.sum())

    def draw(self, count: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng([seed, 7])
        return _blend(self.centres[rng.choice(SUBTOPICS, size=count, p=self.weights)], POST_COS, rng)


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _blend(centres: np.ndarray, cos: float, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors at about ``cos`` to their centre (random directions are ~orthogonal in 384-d)."""
    noise = _unit(rng.standard_normal(centres.shape, dtype=np.float32))
    return np.ascontiguousarray(_unit(cos * centres + np.sqrt(1 - cos**2) * noise), dtype=np.float32)


def posts(start: int, count: int, size: int) -> list[PostRecord]:
    step = DAYS * DAY_S / size
    return [
        PostRecord(
            post_id=str(10**17 + i),
            text=f"post {i}: what people are saying right now about the event, with a link and a tag",
            author=f"user{i % 50_000}",
            created_at=T0 + i * step,
            url=f"https://x.com/i/status/{10**17 + i}",
            lang="en",
        )
        for i in range(start, start + count)
    ]


def build(store: PostStore, mixture: Mixture, size: int) -> float:
    started = time.perf_counter()
    for start in range(0, size, BATCH):
        count = min(BATCH, size - start)
        store.apply(posts(start, count, size), mixture.draw(count, seed=start))
    return time.perf_counter() - started


def timed_searches(
    store: PostStore, queries: np.ndarray, window: tuple[float | None, float | None], budget_s: float
) -> dict:
    """Per-query latency (ms), result ids and the 1st/10th scores; stops once ``budget_s`` is spent."""
    latencies, results, scores = [], [], []
    deadline = time.perf_counter() + budget_s
    for query in queries:
        started = time.perf_counter_ns()
        hits = store.search(query, K, *window)
        latencies.append((time.perf_counter_ns() - started) / 1e6)
        results.append([hit.post.post_id for hit in hits])
        scores.append([hits[0].score, hits[-1].score])
        if time.perf_counter() > deadline:
            break
    first, last = np.median(scores, axis=0).round(3).tolist()
    return {
        "latencies_ms": latencies,
        "results": results,
        "median_score_1st": first,
        "median_score_10th": last,
    }


def mutation_cost(
    store: PostStore, mixture: Mixture, ids: np.ndarray, replace: bool, budget_s: float
) -> dict:
    """ms per ingest micro-batch of replaces or deletes, over up to ``budget_s`` of batches."""
    times = []
    deadline = time.perf_counter() + budget_s
    for start in range(0, len(ids), MUTATE_BATCH):
        chunk = [str(10**17 + int(i)) for i in ids[start : start + MUTATE_BATCH]]
        if replace:
            records = [PostRecord(post_id=pid, text="edited", author="a", created_at=T0) for pid in chunk]
            args = (records, mixture.draw(len(chunk), seed=10**9 + 1 + start))
        else:
            args = ([], np.empty((0, DIM), np.float32), chunk)
        started = time.perf_counter()
        store.apply(*args)
        times.append((time.perf_counter() - started) * 1e3)
        if time.perf_counter() > deadline:
            break
    batches = -(-len(ids) // MUTATE_BATCH)
    return {
        "posts": len(ids),
        "batches_timed": len(times),
        "ms_per_batch_p50": round(float(np.median(times)), 2),
        "total_s_for_1pct": round(float(np.median(times)) * batches / 1e3, 2),
    }


def quantizer_ms(store: PostStore, queries: np.ndarray, nprobe: int) -> float | None:
    """Mean time of the coarse-quantizer step alone in the first segment (why a flat quantizer is enough)."""
    ivf = faiss.try_extract_index_ivf(store._segments[0].index)
    if ivf is None:
        return None
    started = time.perf_counter()
    for query in queries:
        ivf.quantizer.search(query[None, :], nprobe)
    return (time.perf_counter() - started) * 1e3 / len(queries)


def exact_answers(store: PostStore, queries: np.ndarray) -> list[list[str]]:
    """Exact unwindowed top-k of every query in one batched (BLAS) search: the recall ground
    truth for all queries, where timing flat searches one by one ran out of budget at 1M."""
    found = []
    for segment in store._segments:
        scores, local = segment.index.search(queries, K)
        found.append((scores, np.where(local >= 0, local + segment.first, -1)))
    scores = np.concatenate([s for s, _ in found], axis=1)
    slots = np.concatenate([s for _, s in found], axis=1)
    best = np.take_along_axis(slots, np.argsort(-scores, axis=1)[:, :K], axis=1)
    return [[store._records[slot - store._base].post_id for slot in row if slot >= 0] for row in best]


def agreement(truth: list[list[str]], timed: dict) -> float:
    """Share of the timed exact searches' results that the batched ground truth also has."""
    pairs = list(zip(timed["results"], truth, strict=False))
    return round(sum(len(set(a) & set(b)) for a, b in pairs) / max(sum(len(a) for a, _ in pairs), 1), 4)


def vector_bytes(store: PostStore) -> int:
    """Bytes the index holds per vector: float32 for flat, the IVF code (fp16) otherwise."""
    ivf = faiss.try_extract_index_ivf(store._segments[0].index)
    return DIM * 4 if ivf is None else ivf.code_size


def run_case(kind: str, size: int, args: argparse.Namespace) -> dict:
    """One index kind at one size, in a fresh process: build, memory, latency, mutations."""
    mixture = Mixture()
    query_vectors = mixture.draw(args.queries, seed=10**9)
    config = IndexConfig(
        ann="flat" if kind == "flat" else "auto",
        ann_min_posts=args.ann_min_posts,
        segment_posts=args.segment_posts,
        retention_s=None,  # posts span 30 days; the default 7-day retention would drop most of them
    )
    budget_s = args.budget_s
    store = PostStore(DIM, config)
    rebuilds: list[float] = []
    rebuild = ann.rebuild

    def timed_rebuild(index: faiss.Index, nlist: int, seed: int = 0) -> faiss.Index:
        started = time.perf_counter()
        fresh = rebuild(index, nlist, seed)
        rebuilds.append(time.perf_counter() - started)
        return fresh

    ann.rebuild = timed_rebuild  # the store calls ann.rebuild; time it without touching the store
    gc.collect()
    rss_before = psutil.Process().memory_info().rss
    build_s = build(store, mixture, size)
    gc.collect()
    rss_delta = psutil.Process().memory_info().rss - rss_before
    end = T0 + DAYS * DAY_S
    windows = {"all": (None, None), "24h": (end - DAY_S, end), "1h": (end - DAY_S / 24, end)}
    searches = {}
    for probes in [config.nprobe] if kind == "flat" else args.nprobe:
        store._config = config.model_copy(update={"nprobe": probes})
        store.search(query_vectors[0], K)  # warm-up
        for name, window in windows.items():
            searches[f"{name}/{probes}"] = timed_searches(store, query_vectors, window, budget_s)
    truth = exact_answers(store, query_vectors) if kind == "flat" else None
    rng = np.random.default_rng(1)
    picked = rng.choice(size, size=size // 50, replace=False)
    return {
        "kind": kind,
        "size": size,
        "nlist": "/".join(str(layout.nlist) for layout in store.layouts()),
        "segments": len(store.layouts()),
        "build_s": round(build_s, 2),
        "rebuilds_s": [round(s, 2) for s in rebuilds],
        "rss_after_build_mb": round(psutil.Process().memory_info().rss / 2**20, 1),
        "rss_delta_mb": round(rss_delta / 2**20, 1),
        "rss_bytes_per_post": round(rss_delta / size),
        "vector_bytes_per_post": vector_bytes(store),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "quantizer_ms": quantizer_ms(store, query_vectors[:200], config.nprobe),
        "searches": searches,
        "truth_all": truth,
        "truth_agrees_with_search": None
        if truth is None
        else agreement(truth, searches[f"all/{config.nprobe}"]),
        "replace_1pct": mutation_cost(store, mixture, picked[: size // 100], True, budget_s / 2),
        "delete_1pct": mutation_cost(store, mixture, picked[size // 100 :], False, budget_s / 2),
        "vectors_after": store.stats().vectors,
        "posts_after": len(store),
    }


def in_process(kind: str, size: int, args: argparse.Namespace) -> dict:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(run_case, kind, size, args).result()


def summarise(flat: dict, ivf: dict) -> list[dict]:
    rows = []
    for key, run in ivf["searches"].items():
        window, probes = key.split("/")
        exact = next(v for k, v in flat["searches"].items() if k.startswith(window + "/"))
        expected = flat["truth_all"] if window == "all" else exact["results"]
        common = min(len(expected), len(run["results"]))
        found = sum(len(set(a) & set(e)) for a, e in zip(run["results"], expected, strict=False))
        wanted = sum(len(e) for e in expected[:common])
        rows.append(_row(ivf, window, int(probes), run["latencies_ms"], found / max(wanted, 1), exact))
    flat_rows = {k.split("/")[0]: v for k, v in flat["searches"].items()}
    rows += [_row(flat, w, None, v["latencies_ms"], 1.0, v) for w, v in flat_rows.items()]
    return rows


def _row(case: dict, window: str, probes: int | None, latencies: list, recall: float, exact: dict) -> dict:
    p99 = float(np.percentile(latencies, 99))
    return {
        "size": case["size"],
        "index": "flat (exact)" if probes is None else f"ivf nlist={case['nlist']}",
        "nprobe": probes,
        "window": window,
        "queries": len(latencies),
        "p50_ms": round(float(np.percentile(latencies, 50)), 3),
        "p99_ms": round(p99, 3),
        "recall_at_10": round(recall, 4),
        "p99_ratio_vs_exact": round(p99 / float(np.percentile(exact["latencies_ms"], 99)), 4),
        "median_score_1st_10th": [exact["median_score_1st"], exact["median_score_10th"]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument(
        "--nprobe", type=int, nargs="+", default=[8, 16, 32], help="IVF nprobe values to sweep"
    )
    parser.add_argument("--budget-s", type=float, default=40.0, help="max seconds per search scenario")
    parser.add_argument("--ann-min-posts", type=int, default=IndexConfig().ann_min_posts)
    parser.add_argument("--segment-posts", type=int, default=IndexConfig().segment_posts)
    args = parser.parse_args()
    console = Console(width=180)
    console.print(f"data: {DATA}")
    cases, rows = [], []
    for size in args.sizes:
        flat = in_process("flat", size, args)
        ivf = in_process("ivf", size, args)
        rows += summarise(flat, ivf)
        cases += [flat, ivf]
    console.print(latency_table(rows))
    console.print(cost_table(cases))
    for case in cases:
        del case["searches"], case["truth_all"]
    path = write_result(
        "search_latency",
        {"data": DATA, "k": K, "queries": args.queries, "index_config": IndexConfig().model_dump(mode="json")}
        | {"searches": rows, "cases": cases},
    )
    console.print(f"wrote {path}")


def latency_table(rows: list[dict]) -> Table:
    table = Table(
        "posts", "index", "nprobe", "window", "queries", "p50 ms", "p99 ms", "recall@10", "p99 / exact"
    )
    for r in sorted(rows, key=lambda r: (r["size"], r["window"], r["nprobe"] or 0)):
        table.add_row(
            f"{r['size']:,}",
            r["index"],
            str(r["nprobe"] or "-"),
            r["window"],
            str(r["queries"]),
            f"{r['p50_ms']:.2f}",
            f"{r['p99_ms']:.2f}",
            f"{r['recall_at_10']:.3f}",
            f"{r['p99_ratio_vs_exact']:.3f}",
        )
    return table


def cost_table(cases: list[dict]) -> Table:
    table = Table(
        "posts",
        "index",
        "build s",
        "(re)trains s",
        "RSS MB",
        "RSS B/post",
        "vector B/post",
        "peak RSS MB",
        "quantizer ms",
        "replace ms/256",
        "delete ms/256",
        "delete 1% s",
    )
    for c in cases:
        table.add_row(
            f"{c['size']:,}",
            c["kind"] if c["kind"] == "flat" else f"ivf nlist={c['nlist']}",
            f"{c['build_s']:.1f}",
            " + ".join(f"{s:.1f}" for s in c["rebuilds_s"]) or "-",
            f"{c['rss_after_build_mb']:,.0f}",
            f"{c['rss_bytes_per_post']:,}",
            str(c["vector_bytes_per_post"]),
            f"{c['peak_rss_mb']:,.0f}",
            "-" if c["quantizer_ms"] is None else f"{c['quantizer_ms']:.3f}",
            f"{c['replace_1pct']['ms_per_batch_p50']:.1f}",
            f"{c['delete_1pct']['ms_per_batch_p50']:.1f}",
            f"{c['delete_1pct']['total_s_for_1pct']:.1f}",
        )
    return table


if __name__ == "__main__":
    main()
