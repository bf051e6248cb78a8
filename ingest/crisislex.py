"""Reader for the CrisisLexT6 data set: six crises, ~60k labelled tweets.

The files carry no timestamps; a tweet id is a Twitter snowflake, so its
creation time is ``(id >> 22) + 1288834974657`` ms since the Unix epoch.
"""

from __future__ import annotations

import csv
import heapq
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ingest.errors import DatasetError

TWITTER_EPOCH_MS = 1288834974657
FILE_SUFFIX = "-ontopic_offtopic.csv"
DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent.parent / "shared/data/crisislex-t6"


@dataclass(slots=True, frozen=True)
class Tweet:
    """One labelled tweet from a CrisisLexT6 file."""

    id: str
    text: str
    on_topic: bool
    event: str
    created_ms: int

    @property
    def created_at(self) -> datetime:
        return datetime.fromtimestamp(self.created_ms / 1000, tz=UTC)


def snowflake_ms(tweet_id: int) -> int:
    """Creation time in ms since the Unix epoch encoded in a Twitter snowflake id."""
    return (tweet_id >> 22) + TWITTER_EPOCH_MS


def data_dir(explicit: str | Path | None = None) -> Path:
    """The CrisisLexT6 folder: the argument, else ``FEEDPULSE_DATA``, else ../shared/data.

    Raises:
        DatasetError: when the folder does not exist or holds no CrisisLex files.
    """
    chosen = Path(explicit or os.environ.get("FEEDPULSE_DATA") or DEFAULT_DATA_DIR)
    if not chosen.is_dir() or not any(chosen.glob(f"*{FILE_SUFFIX}")):
        raise DatasetError(
            f"CrisisLexT6 data not found at {chosen}: set FEEDPULSE_DATA to the folder "
            f"holding the *{FILE_SUFFIX} files (default ../shared/data/crisislex-t6)"
        )
    return chosen


def event_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand folders into their CrisisLex CSV files; keep files as given."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files.extend(sorted(path.glob(f"*{FILE_SUFFIX}")))
        elif path.is_file():
            files.append(path)
        else:
            raise DatasetError(f"no such file or folder: {path}")
    if not files:
        raise DatasetError(f"no *{FILE_SUFFIX} files in {', '.join(map(str, paths))}")
    return files


def event_name(path: Path) -> str:
    """``2013_Boston_Bombings-ontopic_offtopic.csv`` → ``2013_Boston_Bombings``."""
    return path.name.removesuffix(FILE_SUFFIX).removesuffix(".csv")


def read_event(path: Path) -> list[Tweet]:
    """All tweets of one file, sorted by creation time.

    Raises:
        DatasetError: on a missing column or an id that is not a snowflake.
    """
    event = event_name(path)
    tweets = []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = [name.strip() for name in next(reader, [])]
        if header[:3] != ["tweet id", "tweet", "label"]:
            raise DatasetError(f"{path}: expected header 'tweet id, tweet, label', got {header}")
        for line_no, row in enumerate(reader, start=2):
            tweets.append(_parse_row(row, event, f"{path}:{line_no}"))
    tweets.sort(key=lambda tweet: tweet.created_ms)
    return tweets


def _parse_row(row: list[str], event: str, where: str) -> Tweet:
    if len(row) < 3:
        raise DatasetError(f"{where}: expected 3 fields, got {len(row)}")
    raw_id = row[0].strip().strip("'")
    if not raw_id.isdigit():
        raise DatasetError(f"{where}: tweet id {row[0]!r} is not a number")
    return Tweet(
        id=raw_id,
        text=row[1].strip(),
        on_topic=row[2].strip() == "on-topic",
        event=event,
        created_ms=snowflake_ms(int(raw_id)),
    )


def merged_tweets(paths: Iterable[str | Path]) -> Iterator[Tweet]:
    """Tweets of all given files (or folders), merged in creation-time order."""
    per_event = [read_event(path) for path in event_files(paths)]
    return heapq.merge(*per_event, key=lambda tweet: tweet.created_ms)
