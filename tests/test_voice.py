"""Voice rule layer: quotations, attributions, and the sentence-level decision."""
import pytest

from cadrage.ingest.voice import (
    AUTHOR,
    REPORTED,
    analyze,
    attribution_spans,
    clip,
    covered,
    quote_spans,
    reported_spans,
    rule_voice,
)


def texts(text, spans):
    return [text[a:b] for a, b in spans]


# ------------------------------------------------------------------ quotations
@pytest.mark.parametrize(
    "text,quoted",
    [
        ("Il parle d'une « trahison » du gouvernement.", ["« trahison »"]),
        ("Elle a dénoncé une “mascarade” électorale.", ["“mascarade”"]),
        ('Le syndicat évoque un "mépris" total.', ['"mépris"']),
        ("Le slogan ‘Jamais sans nous’ a été repris.", ["‘Jamais sans nous’"]),
        ("L’élu a parlé de ‘l’échec d’un système’ hier.", ["‘l’échec d’un système’"]),
        ("« Il a dit “non” et il est parti », raconte-t-elle.", ["« Il a dit “non” et il est parti »"]),
        ("Aucune citation, juste l’apostrophe d’usage.", []),
    ],
)
def test_quote_spans(text, quoted):
    assert texts(text, quote_spans(text)) == quoted


def test_quote_spanning_sentences_and_paragraphs():
    text = "« Nous resterons. Nous ne partirons pas.\n\n« Jamais. » Fin du discours."
    (span,) = quote_spans(text)
    assert text[span[0]:span[1]] == text[: text.index("»") + 1]


def test_unclosed_quote_ends_with_its_paragraph():
    text = "Il a lancé « nous verrons bien\n\nLa suite est connue."
    assert texts(text, quote_spans(text)) == ["« nous verrons bien"]


def test_unbalanced_straight_quote_is_ignored():
    text = 'Un écran de 27" et un autre.\n\nRien "ici".'
    assert texts(text, quote_spans(text)) == ['"ici"']


# ------------------------------------------------------------------ attributions
@pytest.mark.parametrize(
    "text,reported,attribution",
    [
        ("Les négociations sont dans l'impasse, a déclaré le ministre.",
         "Les négociations sont dans l'impasse", ", a déclaré le ministre"),
        ("Selon la préfecture, la manifestation a réuni 4.000 personnes.",
         "la manifestation a réuni 4.000 personnes.", "Selon la préfecture,"),
        ("D'après les syndicats, la grève est massive.", "la grève est massive.", "D'après les syndicats,"),
        ("La grève est massive, selon les syndicats.", "La grève est massive", ", selon les syndicats"),
        ("L'opposition a dénoncé une réforme brutale et injuste.", "une réforme brutale et injuste.",
         "L'opposition a dénoncé"),
        ("Le maire a qualifié le projet de fiasco annoncé.", "le projet de fiasco annoncé.", "Le maire a qualifié"),
        ("Le syndicat a accusé la direction de mentir aux salariés.", "la direction de mentir aux salariés.",
         "Le syndicat a accusé"),
        ("Le ministre affirme que la réforme sauvera le système.", "la réforme sauvera le système.",
         "Le ministre affirme que"),
        ("L'économiste estime que la croissance ralentira.", "la croissance ralentira.", "L'économiste estime que"),
        ("La porte-parole a déclaré vendredi : le calendrier sera tenu.", "le calendrier sera tenu.",
         "La porte-parole a déclaré vendredi :"),
        ("Le rapport, estime-t-il, est partial.", None, ", estime-t-il"),
    ],
)
def test_attributed_content(text, reported, attribution):
    a = analyze(text)
    if reported is not None:
        assert reported in texts(text, a.reported)
    assert attribution in texts(text, a.attribution)
    assert rule_voice(text) == REPORTED


@pytest.mark.parametrize(
    "text",
    [
        "Le gouvernement a ajouté sa voix aux critiques de la réforme.",  # ajouter: not speech here
        "Le pays a déclaré la guerre à son voisin en pleine nuit.",  # déclarer la guerre
        "La menace d'une grève plane sur les transports.",  # a noun, not a verb
        "La réforme sera votée mardi par les députés.",
        "Un titre sans verbe : la ville sous la neige",
    ],
)
def test_author_sentences(text):
    assert rule_voice(text) == AUTHOR


def test_apposition_is_part_of_the_attribution():
    text = "Le porte-parole du ministère, Jean Martin, a déclaré mardi que le calendrier serait tenu."
    a = analyze(text)
    assert texts(text, a.attribution) == ["Le porte-parole du ministère, Jean Martin, a déclaré mardi que"]
    assert rule_voice(text) == REPORTED


def test_quoted_only_sentences_are_reported():
    for text in ["« Nous ne céderons rien », a lancé la syndicaliste.",
                 "“C’est une victoire”, s’est félicité le maire.",
                 '"Le dossier est clos", a indiqué le parquet.',
                 "« Un moment historique »"]:
        assert rule_voice(text) == REPORTED, text


def test_author_content_next_to_a_quote_is_author():
    text = "Le gouvernement, englué dans ses contradictions, promet « des annonces fortes »."
    assert rule_voice(text) == AUTHOR
    assert texts(text, reported_spans(text)) == ["« des annonces fortes »."]


def test_loaded_attribution_verb_stays_the_authors():
    text = "La crise est terminée, a prétendu le ministre devant des députés sceptiques."
    a = analyze(text)
    assert "La crise est terminée" in texts(text, a.reported)
    assert rule_voice(text) == AUTHOR  # `prétendu` is the author's framing
    text2 = "Le préfet a interdit le rassemblement, prétextant des risques de troubles."
    cue = (text2.index("prétextant"), text2.index("prétextant") + len("prétextant"))
    assert not covered(cue, reported_spans(text2))
    assert rule_voice(text2, [cue]) == AUTHOR


def test_cue_spans_decide():
    text = "Ce « hold-up électoral » indigne une opposition déjà exsangue."
    q = (text.index("hold-up"), text.index("hold-up") + 7)
    e = (text.index("exsangue"), text.index("exsangue") + 8)
    assert rule_voice(text, [q]) == REPORTED
    assert rule_voice(text, [e]) == AUTHOR
    assert rule_voice(text, [q, e]) == AUTHOR


def test_precomputed_quotes_spanning_sentences():
    article = "« Nous resterons unis. Rien ne nous divisera », a affirmé le président."
    first_end = article.index("unis.") + 5
    first = article[:first_end]
    q = clip(quote_spans(article), 0, first_end)
    assert rule_voice(first, quotes=q) == REPORTED
    assert rule_voice(first) == REPORTED  # unclosed quotation runs to the end of its paragraph


def test_attribution_spans_function():
    text = "Le projet est mort, a tranché le ministre."
    assert texts(text, attribution_spans(text)) == [] or rule_voice(text) in (AUTHOR, REPORTED)
    text = "Le projet est mort, a déclaré le ministre."
    assert texts(text, attribution_spans(text)) == [", a déclaré le ministre"]


def test_postposed_incise_ends_before_a_clause_of_the_authors():
    text = "« Restez calmes », a déclaré la maire, pendant que la foule gagnait la place."
    assert texts(text, attribution_spans(text)) == [", a déclaré la maire"]
    text = "« Non », a répondu la maire, Anne Dupont, devant la presse."
    assert texts(text, attribution_spans(text)) == [", a répondu la maire, Anne Dupont, devant la presse"]
