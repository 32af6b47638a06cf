"""Removal of scraped-page junk from article text, by rules that generalise.

`clean_text(raw)` works line by line (a line is a paragraph): it drops lines that are not article
prose (URLs, XPath/meta strings, timestamps, image-size triples, contact lines, tag lists, bylines
with photo URLs, teaser blocks of other articles, repeated lines) and un-glues headings and
sentences that a scraper pasted together (``… à KievL’hystérie``, ``refus.Le``). It returns the
cleaned text and, per rule, how many lines it removed or fixed. Everything downstream (sentence
offsets, reported spans) refers to the cleaned text, so nothing here has to keep raw offsets.

Each rule is a small function, unit-tested on its own (tests/test_clean.py). Rule names:

    url, byline_photo, xpath_meta, image_size, timestamp, contact, tags, section_label,
    teaser, teaser_lead, teaser_suffix, repeated, glued_heading, glued_sentence
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

# --------------------------------------------------------------------------------------------
# Character classes
# --------------------------------------------------------------------------------------------
UPPER = "A-ZÀ-ÖØ-ÞŒ"
LOWER = "a-zß-öø-ÿœ"
LETTER = UPPER + LOWER
APOS = "'’"

_SPACES = re.compile(r"[\t\f\v\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_INVISIBLE = re.compile(r"[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_MULTISPACE = re.compile(r" {2,}")

URL_RE = re.compile(r"(?:https?://|www\.)[^\s<>\"«»]+", re.I)
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE_RE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s.-]?(?:\(0\))?[\s.-]?\d(?:[\s.-]?\d){6,12}"  # +7 495 645 66 01
    r"|0\d(?:[\s.-]?\d{2}){4})(?!\d)"  # 01 23 45 67 89
)
IMAGE_URL_RE = re.compile(r"\.(?:jpe?g|png|gif|webp|avif|svg|bmp)(?:[?#]\S*)?$", re.I)

_MONTHS = (
    "janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|novembre|"
    "décembre|decembre|janv|févr|fevr|avr|juil|sept|oct|nov|déc|dec|"
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep"
)
_DAYS = "lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_DATE_TOKEN = re.compile(
    r"\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?"  # ISO
    r"|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}"  # 24.01.2022
    r"|\d{4}[./]\d{1,2}[./]\d{1,2}"
    rf"|(?:(?:{_DAYS})\.?\s+)?\d{{1,2}}(?:er)?\s+(?:{_MONTHS})\.?(?:\s+\d{{4}})?"  # 24 janvier 2022
    rf"|(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"  # January 24, 2022
    r"|\d{4}-\d{2}"  # 2022-01
    r"|(?:19|20)\d{2}"  # bare year
    r"|\d{1,2}\s?(?:h|:)\s?\d{2}(?::\d{2})?(?:\s?(?:am|pm))?"  # 11h48, 11:48
    r"|\d{1,2}\s?h(?![\w])",
    re.I,
)
_DATE_FILLER = re.compile(
    rf"\b(?:publié|publiée|publication|mis|mise|à|a|jour|màj|maj|modifié|modifiée|actualisé|"
    rf"actualisée|mis en ligne|le|la|du|depuis|il y a|updated|published|on|at|le|utc|gmt|cet|cest|"
    rf"heure de paris|heure|heures|minutes?|min|{_DAYS})\b|[\s,;:|/·•()\[\]–—-]",
    re.I,
)


def normalize(text: str) -> str:
    """Unicode NFC, one kind of newline and space, no invisible or control characters."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    text = _INVISIBLE.sub("", text)
    text = _SPACES.sub(" ", text)
    text = _CONTROL.sub("", text)
    return "\n".join(_MULTISPACE.sub(" ", line).strip() for line in text.split("\n"))


def _words(line: str) -> list[str]:
    return [w for w in re.split(r"\s+", line) if re.search(rf"[{LETTER}0-9]", w)]




def _ends_like_sentence(line: str) -> bool:
    return bool(re.search(r"[.!?…][\"»”’)\]]*$", line))


# --------------------------------------------------------------------------------------------
# Line rules: each returns True when the line is junk for that rule
# --------------------------------------------------------------------------------------------
def is_url_only(line: str) -> bool:
    """Nothing but one or more URLs (and punctuation)."""
    if not URL_RE.search(line):
        return False
    rest = URL_RE.sub("", line)
    return not re.search(rf"[{LETTER}0-9]", rest)


def is_byline_photo(line: str) -> bool:
    """A few words (a name, a credit) next to a URL: a byline with its photo, a credit link."""
    urls = URL_RE.findall(line)
    if not urls:
        return False
    rest = URL_RE.sub(" ", line).strip()
    words = _words(rest)
    if not words:
        return False  # url-only: the other rule
    return len(words) <= 8 and not _ends_like_sentence(rest)


_XPATH_RE = re.compile(
    r"(?:^|\s)/(?:html|head|body|meta|div|span)\b|/@[\w:-]+|\[@[\w:-]+\s*=|"
    r"\b(?:og|twitter|article|fb|al):[a-z_:]+\b|^\{\s*\"@context\"|^<[^>]+>$|"
    r"^[a-z]{2}[_-][A-Z]{2}$|^(?:true|false|null|undefined|none)$",
)


def is_xpath_meta(line: str) -> bool:
    """XPath expressions, meta-tag names (og:title), locale codes (fr_FR), JSON-LD, bare booleans."""
    if _XPATH_RE.search(line) is None:
        return False
    # a real sentence can mention "og:image" in passing; XPath/meta lines are short and verbless
    return len(_words(line)) <= 12 or line.count("/") >= 4


_IMAGE_SIZE_RE = re.compile(
    r"^\d{2,5}\s*[x×]\s*\d{2,5}(?:\s+(?:true|false|\d{1,5}))?$"
    r"|^\d{2,5}\s+\d{2,5}(?:\s+(?:true|false|\d{1,5}))?$",
    re.I,
)


def is_image_size(line: str) -> bool:
    """`1920 1080 true`, `1920x1080`: width/height(/flag) triples from image metadata."""
    return bool(_IMAGE_SIZE_RE.match(line))


def is_timestamp(line: str) -> bool:
    """A line that holds only dates/times (`2022-01-24T11:48+0100`, `Publié le 24 janvier 2022 à 11h48`)."""
    if len(line) > 120:
        return False
    found = _DATE_TOKEN.findall(line)
    if not found:
        return False
    rest = _DATE_TOKEN.sub(" ", line)
    rest = _DATE_FILLER.sub(" ", rest)
    return not re.search(rf"[{LETTER}0-9]", rest)


def is_contact(line: str) -> bool:
    """A short line with an e-mail address or a phone number (imprint, contact box)."""
    if not (EMAIL_RE.search(line) or PHONE_RE.search(line)):
        return False
    return len(_words(line)) <= 40


def is_tag_list(line: str) -> bool:
    """A comma/pipe-separated list of short keywords, or a `Tags :` line."""
    if re.match(r"^(?:tags?|mots?[- ]cl[ée]s?|th[èe]mes?|sujets?|keywords?)\s*:", line, re.I):
        return True
    if _ends_like_sentence(line):
        return False
    items = [i.strip() for i in re.split(r"\s*[,;|•·]\s*", line) if i.strip()]
    if len(items) < 3:
        return False
    if any(len(_words(i)) > 4 for i in items):
        return False
    lower = sum(1 for i in items if re.match(rf"[{LOWER}]", i))
    return lower * 2 >= len(items)


def is_short_lowercase(line: str) -> bool:
    """A short keyword line (`joe biden`, `europe de l'est`): prose and headings start upper-case."""
    if not re.match(rf"[{LOWER}]", line):
        return False
    if re.search(r"[.!?…:;»\"”]$", line):
        return False
    words = _words(line)
    return 0 < len(words) <= 5 and len(line) <= 60


def is_section_label(line: str) -> bool:
    """A single capitalised word with no punctuation (`Actus`, `International`): a section label."""
    return bool(re.fullmatch(rf"[{UPPER}][{LETTER}-]{{1,24}}", line))


LINE_RULES: list[tuple[str, callable]] = [
    ("url", is_url_only),
    ("byline_photo", is_byline_photo),
    ("xpath_meta", is_xpath_meta),
    ("image_size", is_image_size),
    ("timestamp", is_timestamp),
    ("contact", is_contact),
    ("tags", is_tag_list),
    ("tags", is_short_lowercase),
    ("section_label", is_section_label),
]


def line_rule(line: str) -> str | None:
    """The name of the first junk rule that matches the line, or None for a line to keep."""
    if len(line) > 300:  # long prose: only a run of XPath expressions can be this long
        return "xpath_meta" if line.count("/") >= 4 and is_xpath_meta(line) else None
    for name, rule in LINE_RULES:
        if rule(line):
            return name
    return None


# --------------------------------------------------------------------------------------------
# Teasers of other articles
# --------------------------------------------------------------------------------------------
_BLOCK_MARKERS = re.compile(
    r"^(?:les plus (?:récents|lus|partagés|commentés|populaires|vus)|"
    r"(?:à|a) lire (?:aussi|également|egalement)|lire aussi|voir aussi|(?:à|a) voir aussi|"
    r"(?:à|a) découvrir(?: aussi)?|sur le même (?:sujet|thème)|dans la même rubrique|"
    r"articles? (?:similaires|liés|récents|recommandés)|nos derniers articles|derniers articles|"
    r"vous aimerez (?:aussi|également)|vous (?:pourriez|pourrez) aussi aimer|recommandé pour vous|"
    r"dernières (?:actualités|infos|nouvelles)|l'actu(?:alité)? en continu|en continu|"
    r"plus d'actualités|nos recommandations|ailleurs sur le web|contenus sponsorisés|"
    r"most recent|most read|related articles|read more)\s*:?$",
    re.I,
)
_INLINE_TEASER = re.compile(
    r"^(?:(?:à|a) lire (?:aussi|également)|lire aussi|voir aussi|(?:à|a) voir aussi|"
    r"sur le même sujet|lire la suite)\s*[:>»-]\s*\S", re.I,
)
_TEASER_TAIL = re.compile(
    r"(?:\[(?:…|\.\.\.)\]|\((?:…|\.\.\.)\))\s*(?:\S+\s*){0,4}$|\b(?:lire l['’]article|lire la suite|lire plus|"
    r"en savoir plus|continuer la lecture|read more)\s*[.»>→]*$", re.I,
)
_ELLIPSIS_TAIL = re.compile(r"(?:…|\.\.\.)\s*(?:\S+\s*){0,3}$")


def _title_like(line: str) -> bool:
    return len(_words(line)) <= 25 and not _ends_like_sentence(line)


def _teaser_like(line: str) -> bool:
    return bool(_TEASER_TAIL.search(line) or _ELLIPSIS_TAIL.search(line) or _title_like(line))


def drop_teasers(lines: list[str], counts: Counter) -> list[str]:
    """Teaser blocks (`Les plus récents` + headline/summary pairs) and single teaser lines."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if _BLOCK_MARKERS.match(line):
            j = i + 1
            while j < len(lines) and _teaser_like(lines[j]):
                j += 1
            counts["teaser"] += j - i
            i = j
            continue
        if _INLINE_TEASER.match(line):
            counts["teaser"] += 1
            i += 1
            continue
        if _TEASER_TAIL.search(line):
            counts["teaser"] += 1
            if out and _title_like(out[-1]) and len(out) > 1:
                out.pop()  # the teaser's headline just before it
                counts["teaser"] += 1
            i += 1
            continue
        out.append(line)
        i += 1
    return out


_LEAD_TEASER = re.compile(
    r"^(?P<body>.{20,}?(?:…|\.\.\.))\s*(?P<tail>(?:" + _DATE_TOKEN.pattern + r")[\s,|·–—-]*[^.!?]{0,60})$",
    re.I,
)


def _key(line: str) -> str:
    line = line.casefold().replace("’", "'").replace("…", "...")
    line = re.sub(r"[«»“”\"]", "", line)
    return re.sub(r"\s+", " ", line).strip()


def fix_lead_teasers(lines: list[str], counts: Counter) -> list[str]:
    """`Summary of the lead... 24.01.2022, Outlet` (an og:description): dropped when its text
    repeats elsewhere in the article, else kept without the date/outlet tail."""
    out = list(lines)
    keys = [_key(l) for l in lines]
    for i, line in enumerate(lines):
        m = _LEAD_TEASER.match(line) if ("..." in line or "…" in line) else None
        if not m:
            continue
        body = m.group("body")
        core = _key(re.sub(r"(?:…|\.\.\.)$", "", body))
        if any(core and core in k for j, k in enumerate(keys) if j != i):
            out[i] = ""
            counts["teaser_lead"] += 1
        else:
            out[i] = body
            counts["teaser_suffix"] += 1
    return [l for l in out if l]


def drop_repeated(lines: list[str], counts: Counter) -> list[str]:
    """Lines seen before in the article (the title printed twice, a repeated byline)."""
    seen: set[str] = set()
    out = []
    for line in lines:
        k = _key(line)
        if k in seen:
            counts["repeated"] += 1
            continue
        seen.add(k)
        out.append(line)
    return out


# --------------------------------------------------------------------------------------------
# Glued text
# --------------------------------------------------------------------------------------------
ABBREVIATIONS = frozenset(
    """M MM Mme Mmes Mlle Mlles Dr Drs Pr Prs Me Mes Mgr St Ste Sts Stes Sr Jr Cie Co Inc Ltd Corp
    Gén Gal Col Cdt Cmdt Lt Sgt Cne Cpt Capt Adj Prof Vve Ets av apr bd boul cf chap éd env ex fig
    hab n° p pp tél Tél dép env sq vs Vol Art Ch Chap
    janv févr fév avr juil sept oct nov déc""".split()
)

_STARTERS = frozenset(
    """Le La Les Un Une Des Du De Au Aux Ce Cet Cette Ces Ça Cela Ceci Il Ils Elle Elles On Nous
    Vous Je Tu Après Avant Alors Ainsi Mais Et Or Donc Car Selon Pour Par Dans En Sur Sous Avec
    Sans Depuis Lors Lorsque Pendant Malgré Face Outre Si Quand Comme Puis Enfin Cependant
    Pourtant Toutefois Néanmoins Dès Entre Vers Chez Contre Parmi Suite Plus Moins Tous Toutes Tout
    Aucun Aucune Certains Certaines Plusieurs Qui Que Quoi Quel Quelle Quels Quelles Son Sa Ses Leur
    Leurs Mon Ma Mes Notre Nos Votre Vos Lundi Mardi Mercredi Jeudi Vendredi Samedi Dimanche Hier
    Aujourd Demain Ici Désormais Jusqu Pas Non Oui Voici Voilà Afin Déjà Encore Également Seul
    Seule Très Autre Autres Cet Chaque Depuis Dont Où Sinon Ensuite Aussi Bref""".split()
)
_ELIDED = re.compile(rf"(?:[LDJNSCM]|Qu|Jusqu|Lorsqu|Puisqu|Aujourd)[{APOS}][{LETTER}]")

_GLUED_HEADING = re.compile(rf"(?<=[{LOWER}])(?=[{UPPER}])")
_GLUED_SENTENCE = re.compile(
    rf"(?<=[{LETTER}0-9\"»”)\]])([.!?…]+)([\"»”’)\]]*)(?=[«\"“(]?[{UPPER}](?:[{LOWER}]|[{APOS}][{LETTER}]|\.[{UPPER}]))"
)


def _left_token(line: str, pos: int) -> str:
    start = line.rfind(" ", 0, pos) + 1
    return line[start:pos]


def _is_urlish(token: str) -> bool:
    return bool(re.search(r"://|www\.|@|\.(?:com|fr|org|net|ru|be|ch|ca|eu|info|io)\b", token, re.I))


def _right_word(line: str, pos: int) -> str:
    m = re.match(rf"[{LETTER}]+", line[pos:])
    return m.group(0) if m else ""


def split_glued_headings(line: str) -> tuple[str, int]:
    """`… à KievL’hystérie …` -> `… à Kiev` + newline + `L’hystérie …`.

    A lower-case letter directly followed by an upper-case one starts a new heading/sentence when
    the upper-case part is an elided word (`L’`, `D’`, `Qu’`) or a common sentence-initial word
    (`Au`, `Après`, `Le` …), or when the left part is an ordinary lower-case word (≥ 3 letters)
    and the right part a capitalised word. CamelCase brand names (`JobTeaser`, `GeForce`,
    `iPhone`) start upper-case or are too short on the left, so they are left alone.
    """
    cuts = []
    for m in _GLUED_HEADING.finditer(line):
        pos = m.start()
        left = _left_token(line, pos)
        if _is_urlish(left) or re.search(r"[0-9_/#]", left):
            continue
        right = line[pos:]
        word = _right_word(line, pos)
        left_word = re.split(rf"[{APOS}\-]", left)[-1]
        ok = False
        if _ELIDED.match(right):
            ok = len(left_word) >= 2
        elif word in _STARTERS:
            ok = len(left_word) >= 2
        elif re.fullmatch(rf"[{LOWER}]{{3,}}", left_word) and re.fullmatch(rf"[{UPPER}][{LOWER}]{{2,}}", word):
            ok = left_word == left or re.fullmatch(rf"(?:[{LETTER}]{{1,3}}[{APOS}]|[{LOWER}]+-)?[{LOWER}]+", left) is not None
        if ok:
            cuts.append(pos)
    if not cuts:
        return line, 0
    parts, prev = [], 0
    for c in cuts:
        part = line[prev:c]
        # the heading itself starts after the last sentence end: give it its own line
        m = None
        for m2 in re.finditer(r"[.!?…][\"»”’)\]]*( +)", part):
            tok = _left_token(part, m2.start()).lstrip("«\"“(")
            if not (m2.group().startswith(".") and (tok in ABBREVIATIONS or len(tok) == 1)):
                m = m2
        if m and len(_words(part[m.end():])) <= 20:
            part = part[: m.start(1)] + "\n" + part[m.end():]
        parts.append(part)
        prev = c
    parts.append(line[prev:])
    return "\n".join(parts), len(cuts)


def split_glued_sentences(line: str) -> tuple[str, int]:
    """`refus.Le New York Times` -> `refus. Le New York Times`.

    Not after abbreviations (`M.Biden`), initials (`J.-P.Sartre`, `U.S.Army`), inside URLs or
    e-mail addresses, nor inside numbers (a capital must follow)."""
    out, prev, n = [], 0, 0
    for m in _GLUED_SENTENCE.finditer(line):
        punct_start = m.start(1)
        left = _left_token(line, punct_start)
        bare = left.lstrip("«\"“(['’")
        if _is_urlish(left):
            continue
        last = bare.rsplit(".", 1)[-1]  # `mairie.M` -> `M`
        if bare in ABBREVIATIONS or last in ABBREVIATIONS:
            continue
        if re.fullmatch(rf"(?:[{LETTER}]\.-?)*[{LETTER}]", bare) and len(bare.replace(".", "").replace("-", "")) <= 3 and (
            len(bare) == 1 or "." in bare or "-" in bare
        ):
            continue  # initials: J, J.-P, U.S
        cut = m.end(2)
        out.append(line[prev:cut])
        prev = cut
        n += 1
    if not n:
        return line, 0
    out.append(line[prev:])
    return " ".join(out), n


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------
_LABELS = {
    "url": "URL-only line(s)",
    "byline_photo": "byline/credit line(s) with a URL",
    "xpath_meta": "XPath/meta line(s)",
    "image_size": "image-size line(s)",
    "timestamp": "timestamp line(s)",
    "contact": "contact line(s) (e-mail/phone)",
    "tags": "tag/keyword line(s)",
    "section_label": "section-label line(s)",
    "teaser": "teaser line(s) of other articles",
    "teaser_lead": "teaser line(s) repeating the lead",
    "teaser_suffix": "date/outlet tail(s) of a teaser line",
    "repeated": "repeated line(s)",
    "glued_heading": "glued heading(s)",
    "glued_sentence": "glued sentence(s)",
}
_FIXES = {"glued_heading", "glued_sentence", "teaser_suffix"}


@dataclass
class CleanResult:
    text: str
    counts: Counter = field(default_factory=Counter)

    @property
    def warnings(self) -> list[str]:
        out = []
        for rule, n in self.counts.items():
            if n:
                verb = "split" if rule.startswith("glued") else "stripped" if rule in _FIXES else "removed"
                out.append(f"cleaning: {verb} {n} {_LABELS.get(rule, rule)} [{rule}]")
        return out


def clean_text(raw: str, *, keep_first: bool = True) -> CleanResult:
    """Cleaned text (paragraphs separated by a blank line) and per-rule counts.

    keep_first: the first line (the title, when there is one) is not dropped as a tag line or a
    section label (a one-word or lower-case headline is still a headline)."""
    counts: Counter = Counter()
    lines = [l for l in normalize(raw).split("\n") if l]
    kept: list[str] = []
    for i, line in enumerate(lines):
        rule = line_rule(line)
        if keep_first and i == 0 and rule in ("tags", "section_label"):
            rule = None  # a one-word or lower-case headline is still the headline
        if rule:
            counts[rule] += 1
        else:
            kept.append(line)
    kept = drop_teasers(kept, counts)
    kept = fix_lead_teasers(kept, counts)
    kept = drop_repeated(kept, counts)
    fixed = []
    for line in kept:
        line, n = split_glued_sentences(line)
        counts["glued_sentence"] += n
        line, n = split_glued_headings(line)
        counts["glued_heading"] += n
        fixed.append(line)
    return CleanResult("\n\n".join(fixed), +counts)
