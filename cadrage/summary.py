"""Per-article roll-up of the per-sentence scores.

The headline number is the share of sentences that are loaded *in the author's voice*
(`author_loaded`): a wire story that quotes Moscow calling something a « provocation » is
reporting, not framing, so quoted framing is counted separately and never drives the score.
The summary is computed from one article's records only, so scoring stays a stream.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Iterable, Mapping

from cadrage.reliability import source_key

TOP_EVIDENCE = 5
DEFAULT_LOADED_THRESHOLD = 0.5


def article_fields(article: Any) -> dict[str, Any]:
    """The article-level fields of an ingested article, as writers and summaries take them."""
    return {
        "article_id": article.id, "path": article.path, "url": article.url, "source": article.source,
        "title": article.title, "date": article.date, "warnings": list(article.warnings or []), "error": article.error,
    }


def _argmax(probs: Mapping[str, float]) -> str | None:
    if not probs:
        return None
    # Ties go to the label listed first, so the result does not depend on float noise order.
    return max(probs, key=lambda k: probs[k])


def article_summary(
    article: Mapping[str, Any],
    sentences: Iterable[Mapping[str, Any]],
    *,
    loaded_threshold: float = DEFAULT_LOADED_THRESHOLD,
    top_evidence: int = TOP_EVIDENCE,
) -> dict[str, Any]:
    """Counts, shares, technique histogram, stance distribution and top evidence for one article.

    `sentences` are the per-sentence records of the scoring core. `author_loaded` is taken from
    the records (the model's own threshold decided it); `loaded_threshold` is only used to count
    loaded sentences in any voice (`n_loaded`), since records carry the probability, not the
    decision, for reported speech. A failed article (``article["error"]`` set) gets zero counts,
    ``author_loaded_share`` None and its error carried along.
    """
    sentences = list(sentences)
    error = article.get("error")
    n = len(sentences)
    n_author = n_reported = n_loaded = n_author_loaded = 0
    loaded_sum = 0.0
    tech_all: Counter[str] = Counter()
    tech_author: Counter[str] = Counter()
    stance_sum: dict[str, float] = {}
    stance_counts: dict[str, int] = {}
    stance_n = 0
    evidence: list[dict[str, Any]] = []

    for s in sentences:
        voice = s.get("voice")
        if voice == "author":
            n_author += 1
        elif voice == "reported":
            n_reported += 1
        p = float(s.get("loaded") or 0.0)
        loaded_sum += p
        author_loaded = bool(s.get("author_loaded"))
        if author_loaded or p >= loaded_threshold:
            n_loaded += 1
        techniques = s.get("techniques") or {}
        tech_all.update(techniques.keys())
        stance = s.get("stance") or {}
        if stance:
            stance_n += 1
            for label, prob in stance.items():
                stance_sum[label] = stance_sum.get(label, 0.0) + float(prob)
                stance_counts.setdefault(label, 0)
            stance_counts[_argmax(stance)] += 1
        if author_loaded:
            n_author_loaded += 1
            tech_author.update(techniques.keys())
            evidence.append(
                {
                    "sentence_index": s.get("sentence_index"),
                    "text": s.get("text", ""),
                    "score": round(p, 4),
                    "techniques": sorted(techniques, key=lambda t: -techniques[t]),
                    "cues": [c.get("text", "") for c in (s.get("cues") or [])],
                }
            )

    evidence.sort(key=lambda e: (-e["score"], e["sentence_index"] if e["sentence_index"] is not None else 0))

    def hist(c: Counter[str]) -> dict[str, int]:
        return dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))

    return {
        "article_id": article.get("article_id"),
        "path": article.get("path"),
        "url": article.get("url"),
        "source": source_key(article),
        "title": article.get("title"),
        "date": article.get("date"),
        "error": error,
        "warnings": list(article.get("warnings") or []),
        "n_sentences": n,
        "n_author": n_author,
        "n_reported": n_reported,
        "n_loaded": n_loaded,
        "n_author_loaded": n_author_loaded,
        "author_loaded_share": (n_author_loaded / n) if n else None,
        "mean_loaded": round(loaded_sum / n, 4) if n else None,
        "techniques": {"author": hist(tech_author), "all": hist(tech_all)},
        "stance": {
            "mean": {k: round(v / stance_n, 4) for k, v in stance_sum.items()} if stance_n else {},
            "counts": stance_counts,
        },
        "evidence": evidence[:top_evidence],
    }
