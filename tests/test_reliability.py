"""Per-source reliability (cadrage.reliability): interval honesty, ranking rules, ratings join."""
from __future__ import annotations

import random

import pytest

from cadrage.reliability import (
    UNKNOWN_SOURCE,
    RatingsError,
    SourceAccumulator,
    load_ratings,
    source_table,
)


def summ(source, n, y, i=0, *, url=None, error=None, techniques=None):
    """A minimal article summary as cadrage.summary.article_summary builds it."""
    return {
        "article_id": f"{source}-{i}",
        "source": source,
        "url": url,
        "title": f"article {i}",
        "error": error,
        "n_sentences": 0 if error else n,
        "n_author_loaded": 0 if error else y,
        "techniques": {"author": techniques or ({"Loaded_Language": y} if y else {}), "all": {}},
        "evidence": [
            {"sentence_index": k, "text": f"phrase {k} de {source}-{i}", "score": 0.6 + k / 100, "techniques": ["Loaded_Language"]}
            for k in range(0 if error else y)
        ],
    }


def row_for(table, source):
    return next(r for r in table if r["source"] == source)


def width(row):
    return row["reliability_high"] - row["reliability_low"]


def test_interval_width_shrinks_monotonically_with_more_articles_at_the_same_rate():
    widths = []
    for k in range(1, 41):
        acc = SourceAccumulator()
        for i in range(k):
            acc.add(summ("x.fr", 4, 1, i))
        r = acc.table()[0]
        assert r["reliability_low"] <= r["reliability"] <= r["reliability_high"]
        widths.append(width(r))
    assert all(b < a for a, b in zip(widths, widths[1:])), widths
    assert widths[0] > 0.5 and widths[-1] < 0.25


def test_one_long_article_is_weaker_evidence_than_many_short_ones():
    acc_long, acc_many = SourceAccumulator(), SourceAccumulator()
    acc_long.add(summ("long.fr", 40, 10))
    for i in range(10):
        acc_many.add(summ("many.fr", 4, 1, i))
    long_row, many_row = acc_long.table()[0], acc_many.table()[0]
    assert long_row["sentences"] == many_row["sentences"] == 40
    assert long_row["observed_rate"] == many_row["observed_rate"] == 0.25
    assert width(long_row) > 1.5 * width(many_row)
    assert long_row["effective_sentences"] < many_row["effective_sentences"]
    # an article never counts for more than 1/rho sentences, however long it is
    acc_huge = SourceAccumulator()
    acc_huge.add(summ("huge.fr", 4000, 1000))
    assert acc_huge.table()[0]["effective_sentences"] < 1 / 0.2 + 1e-9
    assert width(acc_huge.table()[0]) > 0.3


def test_same_evidence_in_one_table_too():
    acc = SourceAccumulator()
    acc.add(summ("long.fr", 40, 10))
    for i in range(10):
        acc.add(summ("many.fr", 4, 1, i))
    t = acc.table(min_articles=1)
    assert width(row_for(t, "long.fr")) > width(row_for(t, "many.fr"))


def test_reliability_is_one_minus_loaded_rate_and_orders_sources():
    acc = SourceAccumulator()
    for i in range(6):
        acc.add(summ("clean.fr", 10, 0, i))
        acc.add(summ("loaded.fr", 10, 6, i))
        acc.add(summ("mixed.fr", 10, 2, i))
    t = acc.table()
    assert [r["source"] for r in t] == ["clean.fr", "mixed.fr", "loaded.fr"]
    assert [r["rank"] for r in t] == [1, 2, 3]
    for r in t:
        assert 0.0 <= r["reliability_low"] <= r["reliability"] <= r["reliability_high"] <= 1.0
        assert r["reliability"] == pytest.approx(1 - r["loaded_rate"])
        assert r["reliability_low"] == pytest.approx(1 - r["loaded_rate_high"])
    assert row_for(t, "loaded.fr")["reliability"] < 0.6 < row_for(t, "clean.fr")["reliability"]


def test_minimum_evidence_rule():
    acc = SourceAccumulator()
    for i in range(2):
        acc.add(summ("two-articles.fr", 30, 3, i))  # 60 sentences, 2 articles
    for i in range(3):
        acc.add(summ("short.fr", 5, 1, i))  # 3 articles, 15 sentences
        acc.add(summ("enough.fr", 7, 1, i))  # 3 articles, 21 sentences
    acc.add(summ("enough.fr", 0, 0, 9, error="illisible"))  # failures are not evidence
    t = acc.table()
    assert row_for(t, "enough.fr")["status"] == "ranked" and row_for(t, "enough.fr")["rank"] == 1
    for src in ("two-articles.fr", "short.fr"):
        r = row_for(t, src)
        assert r["status"] == "insufficient" and r["rank"] is None
        assert "insuffisantes" in r["note"]
        assert r["reliability"] is not None  # still shown, with its (wide) interval
    assert t[0]["source"] == "enough.fr"  # ranked sources come first
    enough = row_for(t, "enough.fr")
    assert (enough["articles"], enough["articles_scored"], enough["articles_failed"]) == (4, 3, 1)
    # the thresholds are parameters
    relaxed = acc.table(min_articles=2, min_sentences=10)
    assert {r["source"] for r in relaxed if r["status"] == "ranked"} == {"two-articles.fr", "short.fr", "enough.fr"}


def test_source_with_only_failures_has_no_score():
    acc = SourceAccumulator()
    acc.add(summ("dead.fr", 0, 0, error="binaire"))
    r = acc.table()[0]
    assert r["status"] == "insufficient" and r["reliability"] is None and r["articles_failed"] == 1


def test_unknown_source_grouping_is_explicit_and_never_ranked():
    acc = SourceAccumulator()
    for i in range(30):
        acc.add(summ(None, 10, 1, i))
    acc.add({**summ(None, 10, 1, 99), "url": "https://www.ok.fr/x"})
    t = acc.table()
    unknown = row_for(t, UNKNOWN_SOURCE)
    assert unknown["articles"] == 30 and unknown["status"] == "unknown" and unknown["rank"] is None
    assert row_for(t, "ok.fr")["articles"] == 1
    assert t[-1]["source"] == UNKNOWN_SOURCE


def test_evidence_behind_the_score():
    acc = SourceAccumulator()
    for i in range(4):
        acc.add(summ("ev.fr", 10, 3, i, techniques={"Loaded_Language": 2, "Doubt": 1}))
    r = acc.table()[0]
    assert (r["articles"], r["sentences"], r["author_loaded"]) == (4, 40, 12)
    assert r["observed_rate"] == pytest.approx(0.3)
    assert r["top_techniques"] == [["Loaded_Language", 8], ["Doubt", 4]]
    assert len(r["evidence"]) == 5
    scores = [e["score"] for e in r["evidence"]]
    assert scores == sorted(scores, reverse=True) and scores[0] == pytest.approx(0.62)
    assert set(r["evidence"][0]) >= {"article_id", "sentence_index", "text", "score"}


def test_accumulator_memory_does_not_grow_with_articles():
    acc = SourceAccumulator()
    for i in range(5000):
        acc.add(summ("big.fr", 10 + i % 3, i % 2, i))
    src = acc._sources["big.fr"]
    assert len(src.pairs) <= 6 and len(src.evidence) <= 5


def test_rho_is_estimated_from_overdispersed_articles():
    rng = random.Random(7)
    acc = SourceAccumulator()
    phi = 5.0  # article rates ~ Beta(mu*phi, (1-mu)*phi): intra-article correlation 1/(1+phi)
    for s in range(40):
        mu = rng.betavariate(2, 8)
        for i in range(25):
            p = rng.betavariate(mu * phi, (1 - mu) * phi)
            n = rng.randint(8, 40)
            acc.add(summ(f"s{s}.fr", n, sum(rng.random() < p for _ in range(n)), i))
    model = acc.fit()
    assert 900 <= model.rho_articles <= 1000  # sources with a rate of 0 or 1 carry no dispersion
    assert 0.1 < model.rho_estimate < 0.25
    assert 0.1 < model.rho < 0.25
    assert model.prior_sources == 40 and 1.0 <= model.prior_strength <= 20.0


# --------------------------------------------------------------------------- ratings


def three_sources():
    acc = SourceAccumulator()
    for i in range(4):
        acc.add(summ("fr.sputniknews.com", 10, 5, i))
        acc.add(summ("lemonde.fr", 10, 0, i))
        acc.add(summ("blog.example", 10, 1, i))
    return acc


def test_ratings_join_is_kept_beside_the_score(tmp_path):
    f = tmp_path / "ratings.csv"
    f.write_text("domain,rating\nsputniknews.com,12.5\nwww.lemonde.fr,95\n", encoding="utf-8")
    acc = three_sources()
    plain = {r["source"]: r for r in acc.table()}
    joined = {r["source"]: r for r in acc.table(ratings=f)}
    for src in plain:
        for k in ("reliability", "reliability_low", "reliability_high", "rank", "status"):
            assert joined[src][k] == plain[src][k]
        assert plain[src]["external_rating"] is None
    assert joined["lemonde.fr"]["external_rating"] == 95.0
    # a sub-domain falls back to its parent domain's rating
    assert joined["fr.sputniknews.com"]["external_rating"] == 12.5
    assert joined["fr.sputniknews.com"]["rating_domain"] == "sputniknews.com"
    assert joined["blog.example"]["external_rating"] is None
    # a rating that contradicts the text evidence does not move the score
    g = tmp_path / "inverse.csv"
    g.write_text("domain,rating\nfr.sputniknews.com,100\nlemonde.fr,0\n", encoding="utf-8")
    inverse = {r["source"]: r for r in acc.table(ratings=load_ratings(g))}
    assert inverse["fr.sputniknews.com"]["reliability"] == plain["fr.sputniknews.com"]["reliability"]


def test_ratings_file_variants(tmp_path):
    f = tmp_path / "r.csv"
    f.write_text("\ufeffSite;Note\nhttps://www.rt.com/fr/;faible\nlemonde.fr;4,5\n", encoding="utf-8")
    assert load_ratings(f) == {"rt.com": "faible", "lemonde.fr": 4.5}
    g = tmp_path / "noheader.csv"
    g.write_text("lemonde.fr,90\nrt.com,10\n", encoding="utf-8")
    assert load_ratings(g) == {"lemonde.fr": 90.0, "rt.com": 10.0}


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "cannot read"),
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "binary"),
        ("domaine,note\n".encode() + b"caf\xe9.fr,3\n", "UTF-8"),
        (b"nom,valeur\nlemonde.fr,3\n", "header"),
        (b"domain,rating\nlemonde.fr,\n", "line 2: empty rating"),
        (b"domain,rating\n,3\n", "line 2: empty domain"),
        (b"domain,rating\nlemonde.fr,3\nwww.lemonde.fr,4\n", "line 3"),
        (b"domain,rating\n", "no ratings"),
        (b"source,x,rating\nlemonde.fr\n", "columns"),
    ],
)
def test_bad_ratings_file_is_a_clear_error(tmp_path, content, message):
    f = tmp_path / "bad.csv"
    if content is not None:
        f.write_bytes(content)
    with pytest.raises(RatingsError) as err:
        load_ratings(f)
    assert message in str(err.value)
    assert str(f) in str(err.value)
    # the table refuses it too, instead of silently ranking without ratings
    with pytest.raises(RatingsError):
        three_sources().table(ratings=f)


def test_source_table_helper():
    t = source_table([summ("a.fr", 10, 1, i) for i in range(3)])
    assert t[0]["source"] == "a.fr" and t[0]["status"] == "ranked"
