"""Scraped-junk removal: one test per rule, positive and negative, on text written for the tests."""
from pathlib import Path

import pytest

from cadrage.ingest import clean
from cadrage.ingest.clean import clean_text, line_rule

FIXTURES = Path(__file__).parent / "fixtures" / "articles"

PROSE = [
    "Le conseil municipal a adopté jeudi soir une délibération sur le port fluvial.",
    "« Nous ne lâcherons rien », a déclaré la porte-parole du collectif.",
    "Port fluvial : la mairie relance un projet contesté",
    "Des riverains inquiets",
    "Le 12 mars 2023, la préfecture a publié un arrêté.",
    "La hausse atteint 3,2 % sur un an, soit 1.200 emplois.",
    "‘Un jour historique’",
]


@pytest.mark.parametrize("line", PROSE)
def test_prose_is_kept_by_every_line_rule(line):
    assert line_rule(line) is None


@pytest.mark.parametrize(
    "rule,line",
    [
        ("url", "https://www.exemple.example/2023/03/12/un-article-1234.html"),
        ("url", "www.exemple.example/page"),
        ("byline_photo", "Claire Dumas https://img.exemple.example/auteurs/claire-dumas_100x100.jpg"),
        ("byline_photo", "Photo : AFP https://img.exemple.example/photo.png"),
        ("xpath_meta", "/html/head/meta[@name='og:title']/@content /html/head/meta[@name='og:description']/@content"),
        ("xpath_meta", "og:image"),
        ("xpath_meta", "fr_FR"),
        ("image_size", "1920 1080 true"),
        ("image_size", "1200x675"),
        ("timestamp", "2023-03-12T09:15+0100"),
        ("timestamp", "12.03.2023"),
        ("timestamp", "Publié le 12 mars 2023 à 09h15, mis à jour à 11h02"),
        ("timestamp", "2023"),
        ("contact", "Le Courrier du Matin redaction@courrier.example +33 4 72 00 00 00 Groupe Presse Sud"),
        ("contact", "Standard : 01 23 45 67 89"),
        ("tags", "économie, aménagement, vallée du rhône, port fluvial"),
        ("tags", "Mots-clés : port, mairie, riverains"),
        ("tags", "vallée du rhône"),
        ("section_label", "Actualités"),
    ],
)
def test_line_rules(rule, line):
    assert line_rule(line) == rule


def test_contact_rule_spares_long_prose_without_address():
    assert not clean.is_contact("Plus de 100 000 manifestants ont défilé samedi dans 200 villes du pays.")


def test_timestamp_rule_needs_only_dates():
    assert not clean.is_timestamp("Le 12 mars 2023, le conseil a voté le budget.")


def test_repeated_lines_keep_one_title():
    raw = "Un titre de une\n\nUn titre de une\n\nLe corps de l'article commence ici.\n\nUn titre de une"
    res = clean_text(raw)
    assert res.text.count("Un titre de une") == 1
    assert res.counts["repeated"] == 2


def test_teaser_block_after_marker_is_dropped():
    res = clean_text((FIXTURES / "teaser_block.txt").read_text(encoding="utf-8"))
    assert "boulanger" not in res.text and "cyclistes" not in res.text
    assert "Lire l'article" not in res.text and "[…]" not in res.text
    assert "Les plus récents" not in res.text
    assert "2.000 visiteurs" in res.text
    assert res.counts["teaser"] == 5


def test_single_teaser_with_read_more_is_dropped_with_its_headline():
    raw = ("Titre de l'article\n\nUn premier paragraphe de l'article, qui reste.\n\n"
           "Un autre sujet sans rapport\n\nLe résumé d'un autre article se termine ainsi […] Lire l'article\n\n"
           "Le dernier paragraphe de l'article, qui reste aussi.")
    res = clean_text(raw)
    assert "autre sujet" not in res.text and "résumé" not in res.text
    assert "dernier paragraphe" in res.text


def test_ellipsis_in_a_quote_is_not_a_teaser():
    line = "« Nous avons […] toujours respecté la loi », a assuré le directeur devant la commission d'enquête parlementaire."
    assert clean_text(line).text == line


def test_lead_teaser_repeating_the_body_is_dropped():
    raw = ("Titre\n\nLa mairie relance le port fluvial malgré les riverains... 12.03.2023, Le Courrier\n\n"
           "La mairie relance le port fluvial malgré les riverains, qui dénoncent le bruit.")
    res = clean_text(raw)
    assert "12.03.2023" not in res.text
    assert res.text.count("La mairie relance le port fluvial") == 1
    assert res.counts["teaser_lead"] == 1


def test_lead_teaser_with_new_content_keeps_its_text_without_date_and_outlet():
    raw = ("Titre\n\nLa mairie veut agrandir le port en ignorant les riverains et promet... 12.03.2023, Le Courrier\n\n"
           "Le conseil municipal a voté jeudi.")
    res = clean_text(raw)
    assert "en ignorant les riverains et promet..." in res.text
    assert "12.03.2023" not in res.text and "Le Courrier" not in res.text
    assert res.counts["teaser_suffix"] == 1


@pytest.mark.parametrize(
    "glued,expected",
    [
        ("un chantier de 48 millions d'euros.Les élus ont quitté la salle.",
         "un chantier de 48 millions d'euros. Les élus ont quitté la salle."),
        ("l'adjoint s'est tu.D’après la préfecture, rien n'est décidé.",
         "l'adjoint s'est tu. D’après la préfecture, rien n'est décidé."),
        ("à tout moment\".Londres a réagi.", "à tout moment\". Londres a réagi."),
        ("selon la mairie.M.Vasseur a répondu.", "selon la mairie. M.Vasseur a répondu."),
    ],
)
def test_glued_sentences_are_split(glued, expected):
    assert clean.split_glued_sentences(glued)[0] == expected


@pytest.mark.parametrize(
    "text",
    [
        "M.Vasseur a répondu.",
        "Mme.Durand a répondu.",
        "Le texte cite J.-P.Sartre longuement.",
        "Les U.S.Army Rangers sont arrivés.",
        "Une hausse de 3.5 % en un an.",
        "Voir www.exemple.Fr pour le détail.",
        "Écrire à contact@exemple.Fr pour le détail.",
    ],
)
def test_no_split_after_abbreviations_initials_numbers_urls(text):
    assert clean.split_glued_sentences(text) == (text, 0)


@pytest.mark.parametrize(
    "glued,parts",
    [
        ("Le maire évacue le quartier de la gareL’inquiétude gagne les commerçants.",
         ["Le maire évacue le quartier de la gare", "L’inquiétude gagne les commerçants."]),
        ("Paris temporise, Berlin s’impatienteAu lendemain du sommet, rien n'a bougé.",
         ["Paris temporise, Berlin s’impatiente", "Au lendemain du sommet, rien n'a bougé."]),
        ("Le ministre tente d’apaiserAprès deux jours de grève, il reçoit les syndicats.",
         ["Le ministre tente d’apaiser", "Après deux jours de grève, il reçoit les syndicats."]),
        ("Des riverains inquietsLes habitants redoutent le bruit.",
         ["Des riverains inquiets", "Les habitants redoutent le bruit."]),
    ],
)
def test_glued_headings_are_split(glued, parts):
    assert clean.split_glued_headings(glued)[0].split("\n") == parts


@pytest.mark.parametrize(
    "text",
    ["Il a acheté un iPhone et un eBook.", "La plateforme JobTeaser recrute.", "Un menu McDonald à Lyon.",
     "Les cartes GeForce et le logiciel PowerPoint.", "Il publie sur LinkedIn et YouTube."],
)
def test_camel_case_names_are_not_split(text):
    assert clean.split_glued_headings(text) == (text, 0)


def test_full_scraped_fixture():
    raw = (FIXTURES / "scraped_port.txt").read_text(encoding="utf-8")
    res = clean_text(raw)
    text = res.text
    for junk in ("http", "/html/", "@", "2023-03-12T", "1920 1080", "vallée du rhône", "fr_FR", "Actualités", "+33"):
        assert junk not in text, junk
    assert text.count("Port fluvial : la mairie relance un projet contesté") == 1
    assert "Des riverains inquiets\nLes habitants" in text
    assert "1.200 emplois" in text
    for rule in ("url", "xpath_meta", "timestamp", "contact", "tags", "byline_photo", "image_size",
                 "repeated", "glued_sentence", "glued_heading", "teaser_suffix", "section_label"):
        assert res.counts[rule] > 0, rule
    assert any("[timestamp]" in w for w in res.warnings)
    assert all(w.startswith("cleaning: ") for w in res.warnings)


def test_normalize_spaces_and_invisible_characters():
    assert clean.normalize("Il a dit\u00a0:\u202f« oui\u200b »\r\nFin") == "Il a dit : « oui »\nFin"


def test_clean_article_untouched():
    raw = "Un titre\n\nUn paragraphe normal, sans rien à retirer.\n\nUn second paragraphe."
    res = clean_text(raw)
    assert res.text == raw
    assert res.warnings == []


def test_glued_heading_is_moved_to_its_own_line():
    line = ("Le vote est acquis. M. Dupont tente d’apaiserAprès deux jours de grève, "
            "il reçoit les syndicats.")
    assert clean.split_glued_headings(line)[0].split("\n") == [
        "Le vote est acquis.", "M. Dupont tente d’apaiser", "Après deux jours de grève, il reçoit les syndicats."]
