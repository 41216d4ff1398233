"""Simulated news articles (``/v2/reference/news``).

Each symbol has its own feed: a Poisson number of articles per week (about three), mostly on
weekdays between 11:00 and 23:00 UTC and some on weekends. The tone of an article follows the
stock's move over the preceding week, so sentiment insights correlate with prices. About a
quarter of the articles carry no ``insights`` (as older vendor articles), some mention a second
ticker, some have ``amp_url``/``image_url``. URLs point at reserved ``.example``/``.invalid``
domains so nothing can be mistaken for a real article.

A feed is generated week by week from 2000-01-03, so an article never changes once published;
only its arrays are cached, the dicts are built for the rows a page returns.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from enrichment_pipeline.simulator import market

__all__ = ["Feed", "feed", "article", "news_until"]

_WEEK_ZERO = dt.datetime(2000, 1, 3, tzinfo=dt.timezone.utc)  # a Monday
_WEEK0_SECONDS = int(_WEEK_ZERO.timestamp())
_SLOTS = 8
_ARTICLES_PER_WEEK = 3.0

_PUBLISHERS = tuple(
    {
        "name": name,
        "homepage_url": f"https://www.{slug}.example/",
        "logo_url": f"https://assets.polygon-simulator.invalid/news/logos/{slug}.svg",
        "favicon_url": f"https://assets.polygon-simulator.invalid/news/favicons/{slug}.ico",
    }
    for name, slug in (
        ("Simulated Wire", "simulated-wire"),
        ("Market Mock Daily", "market-mock-daily"),
        ("The Synthetic Street Journal", "synthetic-street"),
        ("Deterministic Investor", "deterministic-investor"),
        ("Paper Trade Times", "paper-trade-times"),
    )
)
_AUTHORS = ("Ada Quant", "Ben Ledger", "Cora Tick", "Dan Spread", "Eve Ratio", "Finn Yield", "Staff Writer")
_TOPICS = (
    "quarterly earnings", "a product launch", "updated guidance", "an analyst day", "a regulatory review",
    "supply-chain news", "its dividend policy", "management commentary",
)
_TITLES = {
    "positive": (
        "{name} ({symbol}) shares climb after {topic}",
        "Analysts turn bullish on {name} following {topic}",
        "{symbol} gains {pct}% in a week as {topic} impresses investors",
    ),
    "negative": (
        "{name} ({symbol}) slides as {topic} disappoints",
        "{symbol} drops {pct}% in a week; investors weigh {topic}",
        "Downgrade weighs on {name} after {topic}",
    ),
    "neutral": (
        "{name} ({symbol}): what to watch after {topic}",
        "Is {name} stock a buy right now?",
        "{symbol} little changed as markets digest {topic}",
    ),
}
_REASONING = {
    "positive": "The article describes {symbol} gaining {pct}% over the week and a favourable reaction to {topic}.",
    "negative": "The article describes {symbol} losing {pct}% over the week and concerns about {topic}.",
    "neutral": "The article discusses {topic} at {name} without a clear positive or negative view.",
}
_PEERS = ("AAPL", "MSFT", "AMZN", "GOOGL", "NVDA", "META", "JPM", "XOM", "WMT", "KO")


@dataclass(frozen=True, eq=False)
class Feed:
    """One symbol's articles up to a point in time, sorted by publication time."""

    symbol: str
    published: np.ndarray  # int64 Unix seconds, ascending
    week: np.ndarray  # int64
    slot: np.ndarray  # int64
    attrs: np.ndarray  # float64 (k, 8) uniforms driving the text
    weekly_return: np.ndarray  # float64 move of the stock over the 5 sessions before publication

    def __len__(self) -> int:
        return len(self.published)


def news_until(as_of: dt.date | None) -> int:
    """Unix seconds up to which articles exist: now, or the end of the ``as_of`` day (UTC)."""
    if as_of is None:
        return int(dt.datetime.now(dt.timezone.utc).timestamp())
    end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc)
    return int(end.timestamp()) - 1


@lru_cache(maxsize=128)  # ~0.4 MB each
def _weeks(symbol: str, n_weeks: int) -> Feed:
    seed = market.symbol_seed(symbol)
    counts = np.minimum(np.random.default_rng([seed, 50]).poisson(_ARTICLES_PER_WEEK, n_weeks), _SLOTS)
    attrs = np.random.default_rng([seed, 51]).random((n_weeks, _SLOTS, 8))
    week, slot = np.nonzero(np.arange(_SLOTS)[None, :] < counts[:, None])
    a = attrs[week, slot]
    weekday = a[:, 0] < 0.9
    day = np.where(weekday, (a[:, 1] * 5).astype(np.int64), 5 + (a[:, 1] * 2).astype(np.int64))
    seconds = np.where(weekday, 11 * 3600 + a[:, 2] * 12 * 3600, a[:, 2] * 86400).astype(np.int64)
    published = _WEEK0_SECONDS + week * 7 * 86400 + day * 86400 + seconds
    order = np.argsort(published, kind="stable")
    return Feed(symbol, published[order], week[order], slot[order], a[order], np.zeros(0))


def feed(symbol: str, until: int, as_of: dt.date | None = None) -> Feed:
    """Articles of ``symbol`` published up to Unix second ``until``."""
    n_weeks = max((until - _WEEK0_SECONDS) // (7 * 86400) + 1, 1)
    weeks = _weeks(symbol, int(n_weeks))
    k = int(np.searchsorted(weeks.published, until, side="right"))
    hist = market.history(symbol, as_of)
    sess = market.sessions()
    pub_days = weeks.published[:k] // 86400
    idx = np.clip(np.searchsorted(sess.ordinals[: hist.n], pub_days, side="right") - 1, 0, hist.n - 1)
    econ = hist.close * hist.executed
    weekly = econ[idx] / econ[np.maximum(idx - 5, 0)] - 1.0
    return Feed(symbol, weeks.published[:k], weeks.week[:k], weeks.slot[:k], weeks.attrs[:k], weekly)


def _article_id(symbol: str, week: int, slot: int) -> str:
    digest = hashlib.sha256(f"{symbol}|news|{week}|{slot}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def article(f: Feed, i: int) -> dict:
    """The vendor-shaped record of article ``i`` of feed ``f``."""
    symbol = f.symbol
    a = f.attrs[i]
    week, slot = int(f.week[i]), int(f.slot[i])
    move = float(f.weekly_return[i])
    sentiment = "positive" if move > 0.015 else "negative" if move < -0.015 else "neutral"
    if a[7] < 0.15:
        sentiment = "neutral"
    name = market.profile(symbol).name
    topic = _TOPICS[int(a[4] * len(_TOPICS))]
    words = {"name": name, "symbol": symbol, "topic": topic, "pct": f"{abs(move) * 100:.1f}"}
    templates = _TITLES[sentiment]
    title = templates[int(a[5] * len(templates))].format(**words)
    published = dt.datetime.fromtimestamp(int(f.published[i]), dt.timezone.utc)
    publisher = _PUBLISHERS[int(a[3] * len(_PUBLISHERS))]
    slug = f"{symbol.lower().replace('.', '-')}-{published:%Y%m%d}-{week}-{slot}"
    tickers = [symbol]
    if a[6] < 0.3:
        peers = [p for p in _PEERS if p != symbol]
        tickers.append(peers[int(a[6] / 0.3 * len(peers)) % len(peers)])
    record = {
        "id": _article_id(symbol, week, slot),
        "publisher": dict(publisher),
        "title": title,
        "author": _AUTHORS[int(a[2] * 7919) % len(_AUTHORS)],
        "published_utc": published.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "article_url": f"{publisher['homepage_url']}news/{slug}",
        "tickers": tickers,
        "description": (
            f"{name} ({symbol}) in focus: coverage of {topic}. "
            f"The stock moved {move * 100:+.1f}% over the previous five sessions."
        ),
        "keywords": [symbol.lower(), topic.split(" ", 1)[-1], "stocks", sentiment],
    }
    if (a[1] * 7.0) % 1.0 < 0.5:
        record["image_url"] = f"https://images.polygon-simulator.invalid/news/{slug}.jpg"
    if (a[0] * 13.0) % 1.0 > 0.6:
        record["amp_url"] = f"{publisher['homepage_url']}amp/news/{slug}"
    if (a[6] * 11.0) % 1.0 >= 0.25:  # about a quarter of the articles have no insights
        record["insights"] = [
            {"ticker": t, "sentiment": sentiment if t == symbol else "neutral",
             "sentiment_reasoning": (_REASONING[sentiment] if t == symbol else _REASONING["neutral"]).format(
                 **{**words, "symbol": t, "name": market.profile(t).name if t != symbol else name})}
            for t in tickers
        ]
    return record
