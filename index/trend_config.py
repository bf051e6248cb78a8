"""Configuration of stories and trend detection (issue 5)."""

from pydantic import BaseModel, Field


class TrendsConfig(BaseModel):
    """How posts group into stories and when a story counts as trending.

    Defaults were chosen on CrisisLexT6 with ``bench/trends_eval.py`` (the same data the
    README's figures come from; there is no held-out set): reposts are >= 0.62 similar
    99.8% of the time, on-topic posts of different events 0.09%, on- vs off-topic posts of
    one event 0.07%.
    """

    enabled: bool = True
    # A post joins the nearest live story whose centroid is at least this similar (cosine).
    join_threshold: float = Field(0.62, gt=0, le=1)
    # Two live stories of at least merge_min_posts posts merge when their centroids are this similar.
    merge_threshold: float = Field(0.85, gt=0, le=1)
    merge_min_posts: int = Field(3, ge=1)
    # A story takes posts while its last post is at most this old (event time); single posts sooner.
    story_ttl_s: float = Field(12 * 3600.0, gt=0)
    singleton_ttl_s: float = Field(2 * 3600.0, gt=0)
    retention_s: float = Field(7 * 86_400.0, gt=0)  # stories quiet this long are forgotten
    bucket_s: float = Field(300.0, gt=0)  # volume buckets, on created time
    baseline_half_life_s: float = Field(6 * 3600.0, gt=0)  # decaying baseline of a story's volume
    background_s: float = Field(86_400.0, gt=0)  # terms in this span are the labels' background
    prior: float = Field(1.0, gt=0)  # added to the expected volume: a new story is not infinitely bursty
    min_score: float = Field(3.0, ge=0)  # trending: burst score at least this …
    min_volume: int = Field(5, ge=1)  # … and at least this many posts in the window
    default_window_s: float = Field(3600.0, gt=0)
    keywords: int = Field(5, ge=1, le=20)
    top_posts: int = Field(5, ge=1, le=50)
    query_min_similarity: float = Field(0.35, ge=-1, le=1)  # q matches a story this close (with an embedder)
