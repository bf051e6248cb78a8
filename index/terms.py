"""Words of a post for stories: repost keys, keywords and hashtags."""

from __future__ import annotations

import re

RT_PREFIX = re.compile(r"^\s*(?:rt\s+@\w+:?\s*)+", re.IGNORECASE)
URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
TOKEN = re.compile(r"#\w+|@\w+|[a-z][a-z0-9']+", re.IGNORECASE)
KEY_CHARS = re.compile(r"[^a-z0-9]+")
KEY_LENGTH = 60  # retweets are cut at 140 characters: compare the start of the text
MIN_KEY_LENGTH = 16
_STOPWORDS = """a about above after again against all am an and any are aren't as at be because been before
    being below between both but by can can't cannot could couldn't did didn't do does doesn't doing
    don't down during each few for from further get got had hadn't has hasn't have haven't having he
    he'd he'll he's her here here's hers herself him himself his how how's i i'd i'll i'm i've if in
    into is isn't it it's its itself just let's like me more most mustn't my myself no nor not now of
    off on once only or other ought our ours ourselves out over own same shan't she she'd she'll
    she's should shouldn't so some such than that that's the their theirs them themselves then there
    there's these they they'd they'll they're they've this those through to too under until up very
    was wasn't we we'd we'll we're we've were weren't what what's when when's where where's which
    while who who's whom why why's will with won't would wouldn't you you'd you'll you're you've your
    yours yourself yourselves rt via amp http https co im dont u ur lol gonna go going one two also
    new still today know see back really right think want need make well even much many day time
"""
STOPWORDS = frozenset(_STOPWORDS.split())


def strip_repost(text: str) -> str:
    """The text without leading ``RT @user:`` prefixes."""
    return RT_PREFIX.sub("", text)


def repost_key(text: str) -> str | None:
    """A key shared by a post, its reposts and its copies; None for texts too short to tell."""
    body = KEY_CHARS.sub(" ", URL.sub(" ", strip_repost(text)).lower()).strip()
    return body[:KEY_LENGTH] if len(body) >= MIN_KEY_LENGTH else None


def terms(text: str) -> list[str]:
    """Distinct lower-case keywords and hashtags of a post, in order (no mentions, URLs, stopwords)."""
    seen: dict[str, None] = {}
    for token in TOKEN.findall(URL.sub(" ", strip_repost(text))):
        token = token.lower().strip("'")
        if token.startswith("@") or len(token) < 3 or token.lstrip("#") in STOPWORDS:
            continue
        seen[token] = None
    return list(seen)
