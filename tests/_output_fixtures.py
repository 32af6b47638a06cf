"""Hand-written scored records for the output tests (summary, reliability, writers, report).

The sentences are written for these tests; scores are set by hand, as the scoring core would
hand them over: per-sentence records plus a summary-free article dict.
"""
from __future__ import annotations

import copy

STANCE_NEUTRAL = {"pro_kremlin": 0.1, "anti_kremlin": 0.1, "neutral": 0.8}
STANCE_PRO = {"pro_kremlin": 0.75, "anti_kremlin": 0.05, "neutral": 0.2}


def cue(text: str, words: str, technique: str, origin: str = "lexicon") -> dict:
    start = text.index(words)
    return {"start": start, "end": start + len(words), "text": words, "technique": technique, "origin": origin}


def sentence(article_id, index, text, loaded, voice="author", techniques=None, stance=None, cues=(), threshold=0.5):
    return {
        "article_id": article_id,
        "sentence_index": index,
        "start": index * 200,
        "end": index * 200 + len(text),
        "text": text,
        "loaded": loaded,
        "techniques": dict(techniques or {}),
        "stance": dict(stance or STANCE_NEUTRAL),
        "voice": voice,
        "author_loaded": loaded >= threshold and voice == "author",
        "cues": [cue(text, *c) for c in cues],
        "error": None,
    }


def article(article_id, *, url=None, source=None, title=None, date="2022-02-10", error=None, warnings=(), path=None):
    return {
        "article_id": article_id,
        "path": path or f"articles/{article_id}.txt",
        "url": url,
        "source": source,
        "title": title,
        "date": date,
        "warnings": list(warnings),
        "error": error,
    }


def loaded_article(article_id, url, title):
    s = [
        sentence(
            article_id, 0,
            "Washington envisage de déployer des troupes en Europe de l'Est en feignant craindre une invasion russe.",
            0.91, techniques={"Doubt": 0.83, "Loaded_Language": 0.64}, stance=STANCE_PRO,
            cues=[("en feignant craindre", "Doubt"), ("feignant", "Loaded_Language", "model")],
        ),
        sentence(
            article_id, 1,
            "L'hystérie attisée ces derniers mois par les médias occidentaux ne faiblit pas.",
            0.88, techniques={"Loaded_Language": 0.86}, stance=STANCE_PRO,
            cues=[("L'hystérie attisée", "Loaded_Language"), ("médias occidentaux", "Loaded_Language", "model")],
        ),
        sentence(article_id, 2, "Le ministre s'est rendu à Kiev mardi pour deux jours d'entretiens.", 0.07),
        sentence(
            article_id, 3,
            "Le Kremlin a dénoncé une « provocation » après l'annonce américaine.",
            0.72, voice="reported", techniques={"Loaded_Language": 0.61},
            cues=[("provocation", "Loaded_Language")],
        ),
        sentence(article_id, 4, "La réunion doit reprendre jeudi à Genève, selon un communiqué.", 0.05),
        sentence(article_id, 5, "Près de cent mille soldats sont massés près de la frontière, selon les estimations occidentales.", 0.12),
        sentence(article_id, 6, "Les chancelleries européennes multiplient les contacts depuis le début du mois.", 0.09),
    ]
    return article(article_id, url=url, title=title), s


def neutral_article(article_id, source=None, url=None, title="Point sur les négociations"):
    s = [
        sentence(article_id, 0, "Les délégations se sont retrouvées lundi à Genève pour un nouveau cycle de discussions.", 0.04),
        sentence(
            article_id, 1,
            "Moscou a qualifié de « provocation » le déploiement de soldats américains, a rapporté l'agence.",
            0.66, voice="reported", techniques={"Loaded_Language": 0.58},
            cues=[("provocation", "Loaded_Language")],
        ),
        sentence(article_id, 2, "Aucun calendrier n'a été fixé pour la suite des échanges.", 0.03),
        sentence(article_id, 3, "Le porte-parole a indiqué que les contacts se poursuivraient par téléphone.", 0.06),
        sentence(article_id, 4, "Les deux parties ont échangé des propositions écrites la semaine dernière.", 0.05),
        sentence(article_id, 5, "Un sommet des chefs d'État n'est pas exclu d'ici au printemps.", 0.08),
        sentence(article_id, 6, "Les marchés ont peu réagi à l'annonce, selon les analystes interrogés.", 0.04),
    ]
    return article(article_id, source=source, url=url, title=title), s


def corpus():
    """(article, sentences) pairs: 3 loaded sputnik articles, neutral wire copy, no-source, failures."""
    items = [
        loaded_article("spk-1", "https://fr.sputniknews.com/20220125/washington.html", "Washington feint de craindre une invasion"),
        loaded_article("spk-2", "https://fr.sputniknews.com/20220201/hysterie.html", "L'hystérie occidentale"),
        loaded_article("spk-3", "http://www.fr.sputniknews.com/20220208/kiev.html", "Kiev et ses parrains"),
        neutral_article("afp-1", url="https://www.lemonde.fr/international/a1.html"),
        neutral_article("afp-2", url="https://www.lemonde.fr/international/a2.html"),
        neutral_article("afp-3", url="https://www.lemonde.fr/international/a3.html", title="Négociations <b>gelées</b> & « réunions »"),
        neutral_article("nosrc-1", title="Dépêche sans origine"),
        neutral_article("rt-1", source="RT France", title="Un article d'une source nommée"),
        (article("broken-1", error="fichier binaire : impossible de lire le texte", path="articles/broken.bin"), []),
        (article("broken-2", url="https://fr.sputniknews.com/20220209/x.html", error="langue détectée : anglais (pas du français)"), []),
    ]
    return copy.deepcopy(items)
