"""Real text in training: unannotated Wikinews sentences as extra negatives, and the annotated
`real-dev` documents for calibration and thresholds, and optionally as training rows
(`data.real.train_on_real_dev`, scored out of fold for tuning: cadrage.training.crossval).
`real-test` is never read here, and neither are the annotated documents of `real-dev` when
drawing negatives (they stay evaluation data).

Wikinews is a neutral-point-of-view outlet: about 1 % of its sentences carry author-voice framing
in the annotated sample (9 of 1,024), so its other sentences are close to free negatives for the
product's flag. They are added with `loaded: 0` and no other label (the other heads are masked),
and some of them quote loaded words (about 5 % in the sample): that noise is the price."""
from __future__ import annotations

import logging
import random

from cadrage.ingest.segment import segment
from cadrage.realtext import RealTextMissing, read_documents, read_labels, real_rows, source_kind

log = logging.getLogger("cadrage.train")
MIN_CHARS, MAX_CHARS = 40, 400


def wikinews_negatives(n: int, seed: int) -> list[dict]:
    """Up to `n` sentences from Wikinews articles nobody annotated, as `loaded: 0` rows; [] (with
    a warning) without ../shared/real."""
    if n <= 0:
        return []
    try:
        documents = read_documents()
    except RealTextMissing as e:
        log.warning("%s; training without real-text negatives", e)
        return []
    annotated = {label["doc"] for label in read_labels()}
    pool = [d for d in documents.values() if source_kind(d["id"]) == "wikinews" and d["id"] not in annotated]
    rng = random.Random(seed)
    rng.shuffle(pool)
    rows: list[dict] = []
    for doc in pool:
        for start, end in segment(doc["text"]):
            text = doc["text"][start:end]
            if MIN_CHARS <= len(text) <= MAX_CHARS and "«" not in text and '"' not in text:
                rows.append({"id": f"{doc['id']}:text:{start}", "article_id": doc["id"], "text": text, "topic": None,
                             "source": "wikinews", "hard_negative": None, "loaded": 0, "techniques": None,
                             "stance": None, "voice": None, "cues": None})
        if len(rows) >= n:
            break
    return rows[:n]


def real_dev_rows() -> list[dict]:
    """The annotated real-dev sentences; [] (with a warning) without ../shared/real."""
    try:
        return real_rows("real-dev")
    except RealTextMissing as e:
        log.warning("%s; thresholds tuned on the authored dev split only", e)
        return []
