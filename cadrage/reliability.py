"""Per-source reliability from the author-voice loaded rate, with an honest interval.

Why this model
--------------
What a fact-checker wants to know about a source is how often *its own writers* frame the
news (author-voice loaded sentences), and how sure we are of that. Counting sentences as if
they were independent coin flips would be wrong twice over: sentences of one article share
a writer, a topic and an editorial line, and the model's errors are correlated inside an
article too. A single 40-sentence article would then look like 40 independent observations
and get a narrow interval, although it is one editorial choice. So ARTICLES are the unit of
evidence:

* Within a source, each article has its own loaded share, scattered around the source's
  rate (beta-binomial overdispersion, intra-article correlation ``rho``). An article of
  ``n`` sentences is then worth ``n / (1 + (n - 1) * rho)`` independent sentences (the
  survey-sampling "design effect"): never more than ``1 / rho``, however long it is. The
  source's evidence is the sum of those effective sizes over its articles, so it only grows
  with more *articles*. Its loaded successes are scaled by the same factor.
* ``rho`` is estimated from the data by the method of moments on the within-source
  dispersion of article shares (sources with at least two articles), shrunk toward a prior
  value (0.2, i.e. at most ~5 sentences' worth of evidence per article) with a pseudo-weight
  of 50 articles: with little data we rely on the prior, with a large corpus on the data.
* Sources are exchangeable: the source rates share an empirical-Bayes Beta prior whose mean
  is the pooled rate and whose strength comes from the between-source variance (method of
  moments), clipped to [1, 20] effective sentences so that neither a few sources nor a very
  homogeneous corpus can swamp a source's own articles. With fewer than three sources the
  prior is a weak Beta of strength 2 around the pooled rate.
* The posterior of the source's loaded rate is Beta(prior + effective successes, prior +
  effective failures); reliability = 1 − its mean, and the 95 % interval is the equal-tailed
  Beta interval (``scipy.stats.beta``), mirrored.

A source is *ranked* only once it has enough evidence (by default ≥ 3 scored articles and
≥ 20 sentences); the others are listed, with their wide interval, as "insufficient
evidence". Articles without a URL or `source` are grouped under an explicit unknown source,
which is never ranked: it mixes outlets. An external ratings table is joined beside the score
(``external_rating``) and never enters it: the score stands on the text evidence alone.

Streaming: the accumulator keeps, per source, a counter of distinct (sentences, loaded)
pairs, a technique counter and a bounded heap of evidence sentences; its size does not grow
with the number of articles, only with the number of sources.
"""
from __future__ import annotations

import csv
import heapq
import io
import math
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

from scipy import stats

UNKNOWN_SOURCE = "(source inconnue)"

RHO_PRIOR = 0.2
RHO_PRIOR_WEIGHT = 50.0  # pseudo-articles behind RHO_PRIOR
RHO_MIN, RHO_MAX = 0.01, 0.95
KAPPA_MIN, KAPPA_MAX = 1.0, 20.0
KAPPA_FALLBACK = 2.0
MIN_SOURCES_FOR_PRIOR = 3
TOP_EVIDENCE = 5
TOP_TECHNIQUES = 5

_DOMAIN_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$")


class RatingsError(ValueError):
    """An external ratings file that cannot be used (missing, unreadable, malformed)."""


# --------------------------------------------------------------------------- source keys


def normalize_source(value: str | None) -> str | None:
    """A canonical key for a source name, domain or URL: lower-case host without ``www.``.

    Something that is neither a URL nor a domain (e.g. "Le Monde") is kept as written, with
    its whitespace collapsed, so that explicit names still group and join.
    """
    if value is None:
        return None
    text = " ".join(str(value).split())
    if not text:
        return None
    candidate = text.lower()
    host = None
    if "://" in candidate:
        host = urlsplit(candidate).hostname
    elif "/" in candidate and " " not in candidate:
        host = urlsplit("//" + candidate).hostname
    elif _DOMAIN_RE.match(candidate.rstrip(".").split(":")[0]):
        host = candidate.rstrip(".").split(":")[0]
    if host:
        host = host.rstrip(".")
        if host.startswith("www."):
            host = host[4:]
        return host or None
    return text


def source_key(record: Mapping[str, Any]) -> str:
    """The source of an article (or article summary): explicit `source`, else the URL's domain.

    Articles with neither are grouped under :data:`UNKNOWN_SOURCE`.
    """
    return normalize_source(record.get("source")) or url_domain(record.get("url")) or UNKNOWN_SOURCE


def url_domain(url: str | None) -> str | None:
    """The normalized host of a URL (``https://www.x.fr/a`` → ``x.fr``); None if it has none."""
    if not url:
        return None
    key = normalize_source(url)
    return key if key and _DOMAIN_RE.match(key) else None


# --------------------------------------------------------------------------- ratings


_DOMAIN_COLS = ("domain", "domaine", "source", "site", "url", "host")
_RATING_COLS = ("rating", "note", "score", "reliability", "fiabilite", "fiabilité", "label")


def _rating_value(text: str) -> float | str:
    try:
        value = float(text.replace(",", ".")) if re.fullmatch(r"[+-]?\d+(?:[.,]\d+)?", text) else None
    except ValueError:
        value = None
    return value if value is not None and math.isfinite(value) else text


def load_ratings(path: str | os.PathLike) -> dict[str, float | str]:
    """Reads an external ratings CSV (domain → rating) into ``{normalized domain: rating}``.

    A header naming a domain column (domain/domaine/source/site/url) and a rating column
    (rating/note/score/reliability/fiabilité/label) is expected; a two-column file whose first
    row is already a domain is read without header. ``,``, ``;`` and tab delimiters are
    accepted. Numeric ratings become floats, others stay strings. Raises :class:`RatingsError`
    with the file and line on any problem: nothing is guessed silently.
    """
    name = os.fspath(path)
    try:
        with open(name, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise RatingsError(f"ratings file {name}: cannot read it ({e.strerror or e})") from e
    if b"\x00" in raw:
        raise RatingsError(f"ratings file {name}: binary content, expected a CSV of domain,rating")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise RatingsError(f"ratings file {name}: not UTF-8 text (byte {e.start})") from e
    if not text.strip():
        raise RatingsError(f"ratings file {name}: empty, expected a CSV of domain,rating")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    rows = [(i, r) for i, r in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), 1)]
    rows = [(i, [c.strip() for c in r]) for i, r in rows if any(c.strip() for c in r)]
    if not rows:
        raise RatingsError(f"ratings file {name}: no rows")
    header = [c.lower() for c in rows[0][1]]
    domain_col = next((header.index(c) for c in _DOMAIN_COLS if c in header), None)
    rating_col = next((header.index(c) for c in _RATING_COLS if c in header), None)
    if domain_col is not None and rating_col is not None:
        body = rows[1:]
    elif len(header) == 2 and normalize_source(rows[0][1][0]) and "." in rows[0][1][0]:
        domain_col, rating_col, body = 0, 1, rows
    else:
        raise RatingsError(
            f"ratings file {name}: line {rows[0][0]}: expected a header with a domain column "
            f"({'/'.join(_DOMAIN_COLS)}) and a rating column ({'/'.join(_RATING_COLS)}), got {rows[0][1]!r}"
        )
    ratings: dict[str, float | str] = {}
    for line, row in body:
        if len(row) <= max(domain_col, rating_col):
            raise RatingsError(f"ratings file {name}: line {line}: expected at least {max(domain_col, rating_col) + 1} columns, got {len(row)}")
        key = normalize_source(row[domain_col])
        value = row[rating_col]
        if not key:
            raise RatingsError(f"ratings file {name}: line {line}: empty domain")
        if not value:
            raise RatingsError(f"ratings file {name}: line {line}: empty rating for {row[domain_col]!r}")
        rating = _rating_value(value)
        if key in ratings and ratings[key] != rating:
            raise RatingsError(f"ratings file {name}: line {line}: {key!r} rated twice ({ratings[key]!r} and {rating!r})")
        ratings[key] = rating
    if not ratings:
        raise RatingsError(f"ratings file {name}: a header but no ratings")
    return ratings


def lookup_rating(ratings: Mapping[str, Any], source: str) -> tuple[str | None, Any]:
    """The rating for `source`: exact key first, then its parent domains (fr.x.com → x.com)."""
    if source in ratings:
        return source, ratings[source]
    if _DOMAIN_RE.match(source):
        labels = source.split(".")
        for i in range(1, len(labels) - 1):
            parent = ".".join(labels[i:])
            if parent in ratings:
                return parent, ratings[parent]
    return None, None


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class ReliabilityModel:
    """The fitted hyper-parameters, reported beside the table for transparency."""

    rho: float  # intra-article correlation used for the design effect
    rho_estimate: float | None  # raw method-of-moments estimate (None: no data for it)
    rho_articles: int  # articles that informed the estimate
    prior_mean: float  # empirical-Bayes prior mean of a source's author-loaded rate
    prior_strength: float  # its strength, in effective sentences
    prior_sources: int  # sources that informed the prior

    def effective(self, n: int, y: int) -> tuple[float, float]:
        """(effective sentences, effective loaded) of one article of n sentences, y loaded."""
        d = 1.0 + (n - 1) * self.rho
        return n / d, y / d

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class SourceStats:
    """All the table needs of one source's articles: counts, the distinct (sentences, author-
    loaded) pairs, technique counts and the top evidence. `SourceAccumulator.add` builds it one
    article at a time; `cadrage.spark` builds it with Spark aggregations; both tables then come
    from the same `SourceAccumulator.table`."""

    key: str
    articles: int = 0
    failed: int = 0
    empty: int = 0
    sentences: int = 0
    author_loaded: int = 0
    pairs: Counter = field(default_factory=Counter)  # (n_sentences, n_author_loaded) -> articles
    techniques: Counter = field(default_factory=Counter)
    evidence: list = field(default_factory=list)  # min-heap of (score, -seq, item)

    def add_evidence(self, item: dict[str, Any], seq: int, top: int = TOP_EVIDENCE) -> None:
        """Keeps `item` if it is among the `top` highest scores (ties: the lower `seq`, i.e. the
        article read first)."""
        entry = (float(item.get("score") or 0.0), -seq, item)
        if len(self.evidence) < top:
            heapq.heappush(self.evidence, entry)
        elif entry > self.evidence[0]:
            heapq.heapreplace(self.evidence, entry)


def evidence_item(summary: Mapping[str, Any], evidence: Mapping[str, Any]) -> dict[str, Any]:
    """One evidence sentence of an article summary, as the source table shows it."""
    return {
        "article_id": summary.get("article_id"),
        "title": summary.get("title"),
        "sentence_index": evidence.get("sentence_index"),
        "text": evidence.get("text"),
        "score": evidence.get("score"),
        "techniques": list(evidence.get("techniques") or []),
    }


class SourceAccumulator:
    """Collects article summaries one by one and turns them into the source table."""

    def __init__(self, top_evidence: int = TOP_EVIDENCE):
        self._sources: dict[str, SourceStats] = {}
        self._top_evidence = top_evidence
        self._seq = 0

    @classmethod
    def from_stats(cls, stats: Iterable[SourceStats]) -> "SourceAccumulator":
        """An accumulator holding per-source statistics computed elsewhere (e.g. by Spark)."""
        acc = cls()
        for src in stats:
            if src.key in acc._sources:
                raise ValueError(f"source {src.key!r} given twice")
            acc._sources[src.key] = src
        return acc

    def __len__(self) -> int:
        return len(self._sources)

    def add(self, summary: Mapping[str, Any]) -> None:
        """Adds one article summary (as built by :func:`cadrage.summary.article_summary`)."""
        key = source_key(summary)
        src = self._sources.get(key)
        if src is None:
            src = self._sources[key] = SourceStats(key)
        src.articles += 1
        if summary.get("error"):
            src.failed += 1
            return
        n = int(summary.get("n_sentences") or 0)
        if n == 0:
            src.empty += 1
            return
        y = int(summary.get("n_author_loaded") or 0)
        if not 0 <= y <= n:
            raise ValueError(f"article {summary.get('article_id')!r}: {y} author-loaded sentences out of {n}")
        src.sentences += n
        src.author_loaded += y
        src.pairs[(n, y)] += 1
        src.techniques.update((summary.get("techniques") or {}).get("author") or {})
        for ev in summary.get("evidence") or []:
            self._seq += 1
            src.add_evidence(evidence_item(summary, ev), self._seq, self._top_evidence)

    # ------------------------------------------------------------------ fitting

    def _known(self) -> list[SourceStats]:
        return [s for k, s in self._sources.items() if k != UNKNOWN_SOURCE and s.pairs]

    def _estimate_rho(self) -> tuple[float | None, int]:
        """Method-of-moments intra-article correlation, pooled over sources with ≥ 2 articles.

        E[Σ(y_i − n_i p̂)²] = p q (A0 + ρ A1) for beta-binomial articles around the source
        rate p, with p̂ the pooled source rate (A0, A1 below account for p̂ being estimated).
        """
        num = den = 0.0
        used = 0
        for src in self._known():
            k = sum(src.pairs.values())
            if k < 2:
                continue
            N = float(src.sentences)
            p = src.author_loaded / N
            if p <= 0.0 or p >= 1.0:
                continue  # no dispersion is observable around a rate of 0 or 1
            s1 = s2 = s3 = ss = 0.0
            for (n, y), c in src.pairs.items():
                s1 += c * n * (n - 1)
                s2 += c * n * n
                s3 += c * n * n * (n - 1)
                ss += c * (y - n * p) ** 2
            a0 = N - s2 / N
            a1 = s1 - 2.0 * s3 / N + (s2 / (N * N)) * s1
            if a1 <= 0:
                continue
            num += ss / (p * (1.0 - p)) - a0
            den += a1
            used += k
        if den <= 0:
            return None, 0
        return min(max(num / den, 0.0), 1.0), used

    def fit(self) -> ReliabilityModel:
        """Estimates rho and the empirical-Bayes prior from everything added so far."""
        rho_hat, m = self._estimate_rho()
        rho = RHO_PRIOR if rho_hat is None else (RHO_PRIOR_WEIGHT * RHO_PRIOR + m * rho_hat) / (RHO_PRIOR_WEIGHT + m)
        rho = min(max(rho, RHO_MIN), RHO_MAX)
        partial = ReliabilityModel(rho, rho_hat, m, 0.5, KAPPA_FALLBACK, 0)

        known = self._known()
        everyone = [s for s in self._sources.values() if s.pairs]
        eff = []
        for src in known:
            ne = ye = 0.0
            for (n, y), c in src.pairs.items():
                a, b = partial.effective(n, y)
                ne += c * a
                ye += c * b
            eff.append((ne, ye))
        total_n = total_y = 0.0
        for src in everyone:
            for (n, y), c in src.pairs.items():
                a, b = partial.effective(n, y)
                total_n += c * a
                total_y += c * b
        mu = total_y / total_n if total_n > 0 else 0.5
        mu = min(max(mu, 0.01), 0.99)
        kappa = KAPPA_FALLBACK
        if len(eff) >= MIN_SOURCES_FOR_PRIOR:
            rates = [ye / ne for ne, ye in eff]
            mean_rate = sum(rates) / len(rates)
            observed_var = sum((r - mean_rate) ** 2 for r in rates) / (len(rates) - 1)
            sampling_var = sum(mu * (1 - mu) / ne for ne, _ in eff) / len(eff)
            tau2 = observed_var - sampling_var
            kappa = KAPPA_MAX if tau2 <= 0 else mu * (1 - mu) / tau2 - 1.0
            kappa = min(max(kappa, KAPPA_MIN), KAPPA_MAX)
        return ReliabilityModel(rho, rho_hat, m, mu, kappa, len(eff) if len(eff) >= MIN_SOURCES_FOR_PRIOR else 0)

    # ------------------------------------------------------------------ table

    def table(
        self,
        min_articles: int = 3,
        ratings: Mapping[str, Any] | str | os.PathLike | None = None,
        *,
        min_sentences: int = 20,
        top_techniques: int = TOP_TECHNIQUES,
        level: float = 0.95,
    ) -> list[dict[str, Any]]:
        """One row per source: ranked sources first (most reliable first), then the others.

        ``ratings`` is a mapping from :func:`load_ratings` or a path to such a CSV; its value
        lands in ``external_rating`` (and the matching key in ``rating_domain``), never in the
        score. ``reliability`` is None for a source with no scored sentence at all.
        """
        if ratings is not None and not isinstance(ratings, Mapping):
            ratings = load_ratings(ratings)
        model = self.fit()
        a0 = model.prior_mean * model.prior_strength
        b0 = (1.0 - model.prior_mean) * model.prior_strength
        tail = (1.0 - level) / 2.0
        rows = []
        for key, src in self._sources.items():
            scored = sum(src.pairs.values())
            ne = ye = 0.0
            for (n, y), c in src.pairs.items():
                a, b = model.effective(n, y)
                ne += c * a
                ye += c * b
            row: dict[str, Any] = {
                "rank": None,
                "source": key,
                "status": "ranked",
                "note": "",
                "reliability": None,
                "reliability_low": None,
                "reliability_high": None,
                "loaded_rate": None,
                "loaded_rate_low": None,
                "loaded_rate_high": None,
                "articles": src.articles,
                "articles_scored": scored,
                "articles_failed": src.failed,
                "sentences": src.sentences,
                "author_loaded": src.author_loaded,
                "observed_rate": (src.author_loaded / src.sentences) if src.sentences else None,
                "mean_article_share": (sum(c * y / n for (n, y), c in src.pairs.items()) / scored) if scored else None,
                "effective_sentences": ne,
                "top_techniques": [[t, c] for t, c in sorted(src.techniques.items(), key=lambda kv: (-kv[1], kv[0]))[:top_techniques]],
                "evidence": [e[2] for e in sorted(src.evidence, reverse=True)],
                "external_rating": None,
                "rating_domain": None,
            }
            if scored:
                a, b = a0 + ye, b0 + (ne - ye)
                mean = a / (a + b)
                lo, hi = (float(v) for v in stats.beta.ppf([tail, 1.0 - tail], a, b))
                row.update(
                    reliability=1.0 - mean,
                    reliability_low=1.0 - hi,
                    reliability_high=1.0 - lo,
                    loaded_rate=mean,
                    loaded_rate_low=lo,
                    loaded_rate_high=hi,
                )
            if key == UNKNOWN_SOURCE:
                row["status"] = "unknown"
                row["note"] = "articles sans URL ni source : jamais classés"
            elif scored < min_articles or src.sentences < min_sentences:
                row["status"] = "insufficient"
                row["note"] = (
                    f"preuves insuffisantes : {scored} article(s) évalué(s) (min. {min_articles}), "
                    f"{src.sentences} phrase(s) (min. {min_sentences})"
                )
            if ratings is not None:
                row["rating_domain"], row["external_rating"] = lookup_rating(ratings, key)
            rows.append(row)

        ranked = [r for r in rows if r["status"] == "ranked"]
        ranked.sort(key=lambda r: (-r["reliability"], -r["reliability_low"], r["source"]))
        for i, r in enumerate(ranked, 1):
            r["rank"] = i
        others = [r for r in rows if r["status"] == "insufficient"]
        others.sort(key=lambda r: (-r["articles_scored"], -r["sentences"], r["source"]))
        unknown = [r for r in rows if r["status"] == "unknown"]
        return ranked + others + unknown


def source_table(
    summaries: Iterable[Mapping[str, Any]],
    min_articles: int = 3,
    ratings: Mapping[str, Any] | str | os.PathLike | None = None,
    **kwargs: Any,
) -> list[dict[str, Any]]:
    """Convenience: the source table of an iterable of article summaries."""
    acc = SourceAccumulator()
    for s in summaries:
        acc.add(s)
    return acc.table(min_articles=min_articles, ratings=ratings, **kwargs)
