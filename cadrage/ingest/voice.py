"""Rule layer for voice: which parts of a sentence are the author's and which are reported.

Pure functions, no model. The scoring step combines them with a model's voice prediction.

* `quote_spans(text)` — character spans of quotations, marks included: « … », “ … ”, „ … “,
  ‹ … ›, ‘ … ’ and straight "…". Guillemets may span sentences, and paragraphs when the next
  paragraph re-opens with « (French convention); an unclosed quotation ends with its paragraph.
* `analyze(text)` — reported spans (quotations plus attributed content) and attribution spans
  (the framing clause that names the speaker: « a déclaré X », « selon X », « X affirme que »).
  Attributed content:
    - postposed: `« … », a déclaré X` / `…, affirme X` / `…, selon X` -> what precedes the comma;
    - preposed: `X a déclaré (vendredi) que …`, `X a accusé Y de …`, `X a qualifié Y de …`,
      `X estime que …`, `Selon X, …`, `D'après X, …`, `… selon lequel …` -> what follows;
    - gerunds: `…, soulignant que …`, `accusant Y de …`;
    - reported speech after a colon when the words before it name a speech act
      (`X a déclaré samedi : …`, `Dans un communiqué, le ministère : …`).
  The attribution verb itself is the author's words. Most are neutral (déclarer, affirmer …);
  loaded ones (prétendre, prétexter, clamer, feindre …) are not counted as attribution, so they
  stay author content.
* `reported_spans(text)` — the reported spans, merged.
* `own_words(text, analysis)` — the sentence with its reported spans and attribution clauses cut
  out, for asking a model whether the author's own words are loaded.
* `rule_voice(text, cue_spans=None)` — `reported` when every framing cue (or, with no cues,
  every word outside attribution clauses) lies inside reported spans; else `author`.

Offsets are character offsets into the `text` passed in. Pass `quotes=` (spans computed on the
whole article and clipped to the sentence) so that quotations spanning sentences are seen.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import Iterable, Sequence

Span = tuple[int, int]

AUTHOR, REPORTED = "author", "reported"


# --------------------------------------------------------------------------------------------
# Spans helpers
# --------------------------------------------------------------------------------------------
def merge(spans: Iterable[Span]) -> list[Span]:
    out: list[list[int]] = []
    for a, b in sorted((a, b) for a, b in spans if b > a):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def clip(spans: Iterable[Span], start: int, end: int) -> list[Span]:
    """Spans intersected with [start, end) and shifted to be relative to `start`."""
    return [(max(a, start) - start, min(b, end) - start) for a, b in spans if a < end and b > start]


def covered(span: Span, spans: Sequence[Span]) -> bool:
    a, b = span
    for s, e in spans:
        if s <= a < e:
            if b <= e:
                return True
            a = e
    return a >= b


# --------------------------------------------------------------------------------------------
# Quotations
# --------------------------------------------------------------------------------------------
_CLOSERS = {"«": "»", "“": "”", "„": "“”", "‹": "›", "‘": "’"}


_QUOTE_CHARS = re.compile(r'[«»“”„‹›‘’"\n]')


def quote_spans(text: str) -> list[Span]:
    """Spans of quotations in `text` (quotation marks included), merged."""
    spans: list[Span] = []
    stack: list[tuple[str, int]] = []  # (opening mark, position)
    straight: int | None = None
    skip_reopen = False
    n = len(text)
    blank_end = -1  # end of the last run of newlines/spaces walked over (walk each run once)
    for m in _QUOTE_CHARS.finditer(text):
        i = m.start()
        ch = text[i]
        if ch == "\n":
            straight = None  # an unbalanced straight quote is not a quotation
            if stack:
                j = i if i >= blank_end else blank_end
                while j < n and text[j] in "\n ":
                    j += 1
                blank_end = j
                if j < n and text[j] in "«“" and stack[0][0] in "«“":
                    skip_reopen = j  # the quotation goes on in the next paragraph
                    continue
                spans.append((stack[0][1], i))
                stack.clear()
            continue
        if skip_reopen is not False and i == skip_reopen:
            skip_reopen = False
            continue
        skip_reopen = False
        if ch == '"':
            if straight is None:
                straight = i
            else:
                spans.append((straight, i + 1))
                straight = None
        elif ch == "’":
            if stack and stack[-1][0] == "‘" and (i + 1 >= n or not text[i + 1].isalpha()):
                start = stack[0][1]
                stack.pop()
                if not stack:
                    spans.append((start, i + 1))
        elif ch == "“" and stack and stack[-1][0] == "„":
            start = stack[0][1]
            stack.pop()
            if not stack:
                spans.append((start, i + 1))
        elif ch in _CLOSERS:
            stack.append((ch, i))
        elif ch in "»”›":
            for k in range(len(stack) - 1, -1, -1):
                if ch in _CLOSERS[stack[k][0]]:
                    start = stack[0][1]
                    del stack[k:]
                    if not stack:
                        spans.append((start, i + 1))
                    break
    if stack:
        spans.append((stack[0][1], n))
    return merge(spans)


# --------------------------------------------------------------------------------------------
# Attribution lexicon
# --------------------------------------------------------------------------------------------
_ER_NEUTRAL = """déclarer affirmer ajouter estimer expliquer indiquer préciser souligner annoncer assurer
dénoncer accuser qualifier juger considérer rappeler insister répéter réitérer marteler confier
raconter tweeter commenter rétorquer riposter exhorter demander réclamer exiger regretter déplorer
condamner fustiger critiquer suggérer citer rapporter signaler noter observer constater plaider
invoquer évoquer alerter mentionner avouer concéder protester arguer nier menacer lancer répliquer
objecter relever jurer proclamer railler ironiser tonner déclarer penser espérer féliciter interroger
inquiéter étonner indigner alarmer emporter exclamer""".split()
_ER_LOADED = """clamer prétexter claironner seriner ressasser rabâcher fanfaronner vociférer éructer
affabuler pérorer""".split()
# verbs whose direct object is itself the attributed content (`a accusé X de …`, `a qualifié X de
# …`, `dénonce des provocations`); every other verb reports speech only with `que`, a colon, a
# quotation, or in a postposed/inverted incise (`a ajouté sa voix`, `a déclaré la guerre` are not speech)
_DIRECT_OBJECT = set("""accuser qualifier dénoncer critiquer condamner fustiger déplorer exhorter nier
démentir réitérer répéter marteler annoncer citer affirmer promettre avertir prédire prétendre
prétexter feindre clamer claironner seriner ressasser rabâcher réclamer""".split())
_PRESENT_STEM = {"rappeler": "rappell", "marteler": "martèl", "répéter": "répèt", "réitérer": "réitèr",
                 "considérer": "considèr", "suggérer": "suggèr", "inquiéter": "inquièt", "vociférer": "vocifèr", "espérer": "espèr",
                 "protéger": "protèg"}
_IRREGULAR = {
    "dire": "pp:dit pp:dits pp:dite fin:dit fin:disent fin:disait fin:disaient ger:disant",
    "écrire": "pp:écrit fin:écrit fin:écrivent fin:écrivait ger:écrivant",
    "prédire": "pp:prédit fin:prédit fin:prédisent fin:prédisait ger:prédisant",
    "répondre": "pp:répondu fin:répond fin:répondent fin:répondait ger:répondant",
    "soutenir": "pp:soutenu fin:soutient fin:soutiennent fin:soutenait ger:soutenant",
    "reconnaître": "pp:reconnu fin:reconnaît fin:reconnait fin:reconnaissent fin:reconnaissait ger:reconnaissant",
    "admettre": "pp:admis fin:admet fin:admettent fin:admettait ger:admettant",
    "promettre": "pp:promis fin:promet fin:promettent fin:promettait ger:promettant",
    "prévenir": "pp:prévenu fin:prévient fin:préviennent fin:prévenait ger:prévenant",
    "avertir": "pp:averti fin:avertit fin:avertissent fin:avertissait ger:avertissant",
    "démentir": "pp:démenti fin:dément fin:démentent fin:démentait ger:démentant",
    "renchérir": "pp:renchéri fin:renchérit fin:renchérissait ger:renchérissant",
    "craindre": "pp:craint fin:craint fin:craignent fin:craignait ger:craignant",
    "croire": "pp:cru fin:croit fin:croient fin:croyait ger:croyant",
    "prétendre": "pp:prétendu fin:prétend fin:prétendent fin:prétendait ger:prétendant",
    "feindre": "pp:feint fin:feint fin:feignent fin:feignait ger:feignant",
}
_LOADED_IRREGULAR = {"prétendre", "feindre"}


def _er_forms(inf: str) -> list[tuple[str, str]]:
    stem = inf[:-2]
    pres = _PRESENT_STEM.get(inf, stem)
    soft = stem[:-1] + "ç" if stem.endswith("c") else stem + "e" if stem.endswith("g") else stem
    forms = [("pp", stem + s) for s in ("é", "ée", "és", "ées")]
    forms += [("fin", pres + "e"), ("fin", pres + "ent"), ("fin", soft + "ait"), ("fin", soft + "aient"),
              ("fin", soft + "a"), ("fin", stem + "èrent"), ("ger", soft + "ant")]
    return forms


def _build_lexicon() -> dict[str, tuple[frozenset, str, bool]]:
    lex: dict[str, tuple[set, str, bool]] = {}

    def add(form, kind, inf, loaded):
        if form in lex and lex[form][1] != inf:
            return
        lex.setdefault(form, (set(), inf, loaded))[0].add(kind)

    for inf in _ER_NEUTRAL + _ER_LOADED:
        for kind, form in _er_forms(inf):
            add(form, kind, inf, inf in _ER_LOADED)
    for inf, spec in _IRREGULAR.items():
        for item in spec.split():
            kind, form = item.split(":")
            add(form, kind, inf, inf in _LOADED_IRREGULAR)
    return {f: (frozenset(k), inf, loaded) for f, (k, inf, loaded) in lex.items()}


LEXICON = _build_lexicon()
"""surface form -> (kinds ⊆ {pp, fin, ger}, infinitive, loaded)"""
_TRIGGERS = frozenset(LEXICON) | {"selon", "après", "citant", "entendre"}
_TRIGGER_HEADS = frozenset(LEXICON) | {"a", "ont", "avait", "avaient", "aurait", "auraient"}
_LAISSER = {"laissé": "pp", "laisse": "fin", "laissent": "fin", "laissait": "fin", "laissaient": "fin",
            "laissant": "ger"}

_REFLEXIVE_AUX = set("""est sont était étaient serait seraient""".split())
_AUX = set("""a ont avait avaient aurait auraient avais eut eurent aura auront""".split())
_INVERTED = re.compile(r"^(?P<base>[\wé]+?)-(?:t-)?(?P<pron>il|elle|on|ils|elles)$")
_ADVERBS = set("""également aussi encore déjà pourtant toutefois cependant ensuite alors bien notamment enfin
ainsi souvent toujours jamais pas ne n' plus même publiquement clairement ouvertement longuement
officiellement récemment vivement fermement lui leur""".split())
_TIME = set("""lundi mardi mercredi jeudi vendredi samedi dimanche hier aujourd' hui soir matin midi
après-midi dernier dernière encore également aussi déjà récemment notamment""".split())
_DETERMINERS = set("""le la les l' un une des du de d' au aux ce cet cette ces son sa ses leur leurs mon ma mes
ton ta tes notre nos votre vos quel quelle quels quelles chaque toute tout nouvelle nouveau""".split())
_CLAUSE_STARTERS = set("""que qu' qui et mais alors tandis lorsque quand si car puisque dont où parce""".split())
_CLAUSE_AFTER_COMMA = set("""pendant tandis alors lorsque quand avant après où et mais car puisque parce
afin bien sans tout""".split())
_ATTR_STOPPERS = set("""alors tandis lorsque car parce puisque mais quand afin""".split())
_SPEECH_NOUNS = re.compile(
    r"\b(?:déclaration|communiqué|message|discours|tweet|réponse|annonce|avertissement|propos|"
    r"conférence de presse|interview|entretien|lettre|courrier|post|publication|déclaré|dit|écrit|"
    r"précisé|affirmé|ajouté|expliqué|souligné|indiqué|averti)\b", re.I)

_TOKEN = re.compile(r"\w+['’](?=\w)|\w+(?:-\w+)*|[^\w\s]")


@dataclass(slots=True)
class _Tok:
    text: str
    low: str
    start: int
    end: int


def _tokens(text: str) -> list[_Tok]:
    return [_Tok(m.group(), m.group().lower().replace("’", "'"), m.start(), m.end()) for m in _TOKEN.finditer(text)]


@dataclass
class Analysis:
    reported: list[Span] = field(default_factory=list)
    attribution: list[Span] = field(default_factory=list)
    quotes: list[Span] = field(default_factory=list)


WORDS = re.compile(r"\w+(?:-\w+)*")
"""A word, hyphenated compounds kept whole (elisions split: « qu'ils » is two words)."""


def _may_attribute(text: str) -> bool:
    """Cheap pre-check: does any word of `text` start an attribution? (skips tokenising most
    sentences)"""
    for w in WORDS.findall(text.lower()):
        if w in _TRIGGERS or ("-" in w and w.split("-", 1)[0] in _TRIGGER_HEADS):
            return True
    return False


def _inside(pos: int, spans: Sequence[Span]) -> bool:
    """pos inside one of `spans` (sorted and disjoint, as merge() returns them)."""
    k = bisect.bisect_right(spans, (pos, float("inf"))) - 1
    return k >= 0 and spans[k][0] <= pos < spans[k][1]


def _is_gerund_or_source(low: str) -> bool:
    return "ger" in LEXICON.get(low, ((),))[0] or low in ("selon", "citant")


class _Scan:
    """Per-sentence lookups the attribution rules make from many tokens ("the next `;` after
    token k"), each built once in linear time on first use, so that a long sentence full of
    attribution verbs costs linear, not quadratic, time."""

    def __init__(self, toks: list[_Tok]):
        self.toks = toks
        self._next: dict[str, list[int]] = {}
        n = len(toks)
        # where each rule stops: token j ends what the rule scans
        self._stops = {
            "semicolon": lambda j: toks[j].text == ";",
            "reported_end": lambda j: toks[j].text == ";" or (
                toks[j].text == "," and j + 1 < n and _is_gerund_or_source(toks[j + 1].low)),
            "source_end": lambda j: toks[j].text in ",.;:!?",
            "incise_end": lambda j: toks[j].text in ",.;:!?\"«»",
            "postposed_end": lambda j: toks[j].text in ".;!?:" or toks[j].low in _ATTR_STOPPERS or (
                toks[j].text == "," and j + 1 < n and (
                    _is_gerund_or_source(toks[j + 1].low) or toks[j + 1].low in _CLAUSE_AFTER_COMMA)),
        }

    def next(self, name: str, k: int) -> int:
        """First index >= k where the rule `name` stops (len(toks) if none)."""
        n = len(self.toks)
        if name not in self._next:
            stops = self._stops[name]
            nxt = [n] * (n + 1)
            for j in range(n - 1, -1, -1):
                nxt[j] = j if stops(j) else nxt[j + 1]
            self._next[name] = nxt
        return self._next[name][min(max(k, 0), n)]

    def uppers(self, a: int, b: int) -> bool:
        """Does a token in toks[a:b] start with a capital?"""
        if "upper" not in self._next:
            counts = [0]
            for t in self.toks:
                counts.append(counts[-1] + t.text[:1].isupper())
            self._next["upper"] = counts
        counts = self._next["upper"]
        return b > a and counts[b] - counts[a] > 0

    def last_semicolon_before(self, k: int) -> int | None:
        if "prev_semicolon" not in self._next:
            prev, last = [], None
            for j, t in enumerate(self.toks):
                prev.append(last)  # the last `;` strictly before j
                if t.text == ";":
                    last = j
            prev.append(last)
            self._next["prev_semicolon"] = prev
        return self._next["prev_semicolon"][min(max(k, 0), len(self.toks))]


def _clause_end(toks: list[_Tok], i: int, n: int, scan: _Scan) -> int:
    j = scan.next("semicolon", i)
    return toks[j].start if j < len(toks) else n


def _find_que(toks: list[_Tok], j: int, window: int = 16) -> int | None:
    """Index just after `que`/`qu'`/`:` found within `window` tokens from j (no comma before)."""
    for k in range(j, min(len(toks), j + window)):
        t = toks[k]
        if t.low in ("que", "qu'", ":"):
            return k + 1
        if t.text in ",.;!?«»\"" or t.low in LEXICON or t.low in _ATTR_STOPPERS:
            return None
    return None


def _reported_end(toks: list[_Tok], i: int, n: int, scan: _Scan) -> int:
    """End of what a preposed verb at i reports: `;`, or a comma that opens another attribution
    (`, prétextant …`, `, selon …`), else the end of the sentence."""
    k = scan.next("reported_end", i + 1)
    return toks[k].start if k < len(toks) else n


def _subject_start(toks: list[_Tok], g_start: int) -> int:
    """Character offset where the attribution `X a déclaré` starts: the subject, an apposition
    (`Le porte-parole, John Kirby,`) and a short opening adverbial (`Dimanche,`, `De son côté,`)
    belong to it; a longer opening phrase is the author's own content."""
    cs = _clause_start(toks, g_start, limit=40)
    cs = max(0, g_start - 40) if cs is None else cs
    segments: list[list[_Tok]] = [[]]
    for t in toks[cs:g_start]:
        if t.text == ",":
            segments.append([])
        else:
            segments[-1].append(t)
    keep = len(segments) - 1  # the segment holding the subject
    if keep > 0 and not segments[-1]:
        # `X, <apposition>, a déclaré`: a name (`Le porte-parole, Jean Martin,`) or a description
        # of a named subject (`Jean Martin, directeur du centre,`) is part of the attribution; a
        # description of anything else (`Le gouvernement, englué dans …,`) is the author's words
        appo, subj = segments[keep - 1], segments[keep - 2] if keep >= 2 else []
        name = 0 < len(appo) <= 4 and all(t.text[:1].isupper() for t in appo)
        named_subject = bool(subj) and subj[0].text[:1].isupper() and subj[0].low not in _DETERMINERS and len(appo) <= 14
        if not (name or named_subject) or not subj:
            return toks[g_start].start
        keep -= 2
    if len(segments[keep]) > 16:
        return toks[g_start].start
    k = keep - 1
    while k >= 0 and len([t for t in segments[k] if t.text[:1].isalnum()]) <= 3:
        keep = k  # a short opening adverbial: `Dimanche,`, `De son côté,`
        k -= 1
    first = segments[keep][0] if segments[keep] else None
    return first.start if first is not None else toks[g_start].start


def _skip(toks: list[_Tok], j: int, words: set[str]) -> int:
    while j < len(toks) and toks[j].low in words:
        j += 1
    return j


def _clause_start(toks: list[_Tok], i: int, limit: int = 16) -> int | None:
    """Token index where the subject of the verb at i starts (None: too far / no clear start)."""
    k = i - 1
    steps = 0
    while k >= 0:
        t = toks[k]
        if t.text in ";:«»\"“”" or t.low in _CLAUSE_STARTERS:
            return k + 1
        steps += 1
        if steps > limit:
            return None
        k -= 1
    return 0


def analyze(text: str, *, quotes: Sequence[Span] | None = None) -> Analysis:
    q = merge(quote_spans(text) if quotes is None else quotes)
    toks = _tokens(text) if _may_attribute(text) else []
    n = len(text)
    reported: list[Span] = []
    attribution: list[Span] = []
    loaded_words: list[Span] = []

    def add_attr(a: int, b: int, loaded_tok: _Tok | None = None):
        if loaded_tok is None:
            attribution.append((a, b))
        else:  # a loaded verb stays author content
            attribution.extend([(a, loaded_tok.start), (loaded_tok.end, b)])
            loaded_words.append((loaded_tok.start, loaded_tok.end))

    scan = _Scan(toks)
    for i, t in enumerate(toks):
        low = t.low
        if low not in _TRIGGERS and "-" not in low:
            continue
        if q and _inside(t.start, q):
            continue
        # ---- selon / d'après / citant: a source phrase
        if low == "selon" or (low == "après" and i > 0 and toks[i - 1].low == "d'") or (
            low == "citant" and _source_incise(toks, i, scan)
        ):
            s_tok = i - 1 if low == "après" else i
            nxt = toks[i + 1].low if i + 1 < len(toks) else ""
            if nxt in ("lequel", "laquelle", "lesquels", "lesquelles", "qui", "quoi"):
                add_attr(toks[s_tok].start, toks[i + 1].end)
                reported.append((toks[i + 1].end, _clause_end(toks, i, n, scan)))
                continue
            # source phrase: up to the next comma / end
            j = scan.next("source_end", i + 1)
            src_end = toks[j - 1].end if j > i + 1 else t.end
            before = toks[s_tok - 1] if s_tok > 0 else None
            if j < len(toks) and toks[j].text == "," and (before is None or before.text in ";:(" or s_tok == 0):
                # Selon X, <reported>
                add_attr(toks[s_tok].start, toks[j].end)
                reported.append((toks[j].end, _clause_end(toks, j, n, scan)))
            elif before is not None and before.text == "," and j < len(toks) and toks[j].text == ",":
                # …, selon X, <rest>: the whole clause is X's
                cs = _clause_start(toks, s_tok - 1)
                cs_pos = toks[cs].start if cs is not None and cs < s_tok else 0
                add_attr(before.start, toks[j].end)
                reported.extend([(cs_pos, before.start), (toks[j].end, _clause_end(toks, j, n, scan))])
            else:
                # <reported>, selon X.
                cs = _clause_start(toks, s_tok)
                cs_pos = toks[cs].start if cs is not None and cs < s_tok else 0
                a = before.start if before is not None and before.text == "," else toks[s_tok].start
                add_attr(a, src_end)
                if a > cs_pos:
                    reported.append((cs_pos, a))
            continue
        base, inverted = low, False
        m = _INVERTED.match(low)
        if m and m["base"] in LEXICON:
            base, inverted = m["base"], True
        prev = toks[i - 1] if i > 0 else None
        v_start = i  # first token of the verb itself (`laissé entendre`)
        if low == "entendre" and prev is not None and prev.low in _LAISSER:
            kinds, inf, loaded = frozenset({_LAISSER[prev.low]}), "laisser entendre", False
            v_start = i - 1
            prev = toks[i - 2] if i > 1 else None
        elif base in LEXICON:
            kinds, inf, loaded = LEXICON[base]
        else:
            continue
        # ---- verb group
        g_start = v_start
        kind = None
        if "pp" in kinds:
            k = v_start - 1
            while k >= 0 and (toks[k].low in _ADVERBS or toks[k].low.endswith("ment")) and v_start - k <= 3:
                k -= 1
            aux_m = _INVERTED.match(toks[k].low) if k >= 0 else None
            if k >= 0 and (toks[k].low in _AUX or (aux_m and aux_m["base"] in _AUX)):
                g_start, kind = k, "pp"
                inverted = inverted or bool(aux_m and aux_m["base"] in _AUX)
            elif k >= 1 and toks[k].low in _REFLEXIVE_AUX and toks[k - 1].low in ("s'", "se"):
                g_start, kind = k - 1, "pp"  # s'est félicité, s'est interrogé
        if kind is None and "fin" in kinds and not (prev is not None and prev.low in _DETERMINERS):
            kind = "fin"  # (after a determiner it is a noun: `la menace`, `une note`)
        if kind is None and "ger" in kinds:
            kind = "ger"
        if kind is None:
            continue  # a bare participle is an adjective (`l'accusé`, `tel que prévu`)
        loaded_tok = t if loaded else None
        g_end = t.end
        after = _skip(toks, i + 1, _TIME | _ADVERBS)
        que_at = _find_que(toks, i + 1)
        before_tok = toks[g_start - 1] if g_start > 0 else None
        subject_follows = after < len(toks) and (
            toks[after].low in _DETERMINERS or toks[after].text[:1].isupper() and toks[after].text[:1].isalpha()
        )
        postposed = kind != "ger" and (inverted or (
            before_tok is not None and before_tok.text == "," and subject_follows
            and que_at is None and not _appositive(toks, g_start - 1)
        ))
        quote_follows = after < len(toks) and toks[after].text in "«“\"‘"
        if inf not in _DIRECT_OBJECT and que_at is None and not postposed and not quote_follows:
            continue
        if kind == "ger":
            # …, soulignant que <reported> / accusant X de <reported>
            a = before_tok.start if before_tok is not None and before_tok.text == "," else toks[v_start].start
            r_start = toks[que_at - 1].end if que_at else (toks[after].start if after < len(toks) else n)
            add_attr(a, r_start, loaded_tok)
            reported.append((r_start, _reported_end(toks, i, n, scan)))
        elif postposed:
            # <reported>, a déclaré X (…)
            comma = before_tok.start if before_tok is not None and before_tok.text == "," else toks[g_start].start
            # up to `.;!?:`, a stopper, or a comma opening another clause: `…, a déclaré X,
            # pendant que <author>` (the incise ends at that comma)
            j = scan.next("postposed_end", i + 1)
            a_end = toks[j - 1].end if j > i + 1 else g_end
            if inverted and "-" in t.text and i + 1 < len(toks) and toks[i + 1].text == ",":
                # `Le rapport, estime-t-il, est partial.`: an incise inside the reported clause
                a_end = g_end
                reported.append((toks[i + 1].end, _reported_end(toks, i + 1, n, scan)))
            add_attr(comma, a_end, loaded_tok)
            cs = _clause_start_reported(toks, g_start, scan)
            if comma > cs:
                reported.append((cs, comma))
        else:
            # X a déclaré (vendredi) que <reported> / X a accusé Y de <reported>
            a_start = _subject_start(toks, g_start)
            if que_at is not None:
                r_start = toks[que_at - 1].end
            else:
                r_start = toks[after].start if after < len(toks) else n
            add_attr(a_start, r_start, loaded_tok)
            reported.append((r_start, _reported_end(toks, i, n, scan)))

    # reported speech after a colon introduced by a speech act
    semi = -2  # the next `;` after the current colon (-1: none left), found once per stretch
    for m in re.finditer(r":", text):
        if _inside(m.start(), q):
            continue
        if _SPEECH_NOUNS.search(text[max(0, m.start() - 80):m.start()]):
            if semi != -1 and semi < m.end():
                semi = text.find(";", m.end())
            reported.append((m.end(), semi if semi != -1 else n))

    # the author's loaded verbs (`prétextant`) are never inside what they attribute
    reported = _subtract(merge(reported), merge(loaded_words)) + list(q)
    return Analysis(reported=merge(_trim(text, reported)), attribution=merge(_trim(text, attribution)), quotes=q)


def _subtract(spans: list[Span], holes: list[Span]) -> list[Span]:
    """`spans` minus `holes` (both sorted and disjoint, as merge() returns them)."""
    out = []
    ends = [h2 for _, h2 in holes]
    for a, b in spans:
        for h1, h2 in holes[bisect.bisect_right(ends, a):]:
            if h1 >= b:
                break
            if h2 <= a or h1 >= b:
                continue
            if h1 > a:
                out.append((a, h1))
            a = max(a, h2)
        if b > a:
            out.append((a, b))
    return out


def _source_incise(toks: list[_Tok], i: int, scan: _Scan) -> bool:
    """`…, citant Sky News, …`: a gerund naming a source (capitalised, up to a comma)."""
    if i == 0 or toks[i - 1].text != ",":
        return False
    j = scan.next("incise_end", i + 1)
    return j < len(toks) and toks[j].text == "," and scan.uppers(i + 1, j)


def _clause_start_reported(toks: list[_Tok], g_start: int, scan: _Scan) -> int:
    """Start of what a postposed attribution reports: after the last `;` before it, else 0."""
    k = scan.last_semicolon_before(g_start)
    return toks[k].end if k is not None else 0


def _appositive(toks: list[_Tok], comma_idx: int) -> bool:
    """`Le porte-parole, John Kirby, a déclaré`: the comma closes a short capitalised apposition."""
    k = comma_idx - 1
    words = []
    while k >= 0 and toks[k].text not in ",;:" and len(words) <= 4:  # more than 4 words: never one
        words.append(toks[k])
        k -= 1
    return k >= 0 and toks[k].text == "," and 0 < len(words) <= 4 and all(w.text[:1].isupper() for w in words)


def _trim(text: str, spans: Iterable[Span]) -> list[Span]:
    out = []
    for a, b in spans:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            out.append((a, b))
    return out


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------
def reported_spans(text: str, *, quotes: Sequence[Span] | None = None) -> list[Span]:
    """Merged character spans of `text` that are quoted or attributed to someone else."""
    return analyze(text, quotes=quotes).reported


def attribution_spans(text: str, *, quotes: Sequence[Span] | None = None) -> list[Span]:
    """Spans of the attribution clauses themselves (`, a déclaré X`, `Selon X,`)."""
    return analyze(text, quotes=quotes).attribution


_WORD = re.compile(r"\w")


def voice_of(text: str, analysis: Analysis, cue_spans: Sequence[Span] | None = None) -> str:
    rep = analysis.reported
    if not rep:
        return AUTHOR
    if cue_spans:
        cues = [(a, b) for a, b in cue_spans if b > a]
        if cues:
            return REPORTED if all(covered(c, rep) for c in cues) else AUTHOR
    own = _mask(text, analysis.attribution)  # the sentence without its attribution clauses
    if not _WORD.search(own):
        return AUTHOR
    return AUTHOR if _WORD.search(_mask(own, rep)) else REPORTED


def _mask(text: str, spans: Sequence[Span]) -> str:
    if not spans:
        return text
    parts, prev = [], 0
    for a, b in spans:
        parts.append(text[prev:a])
        parts.append(" " * (b - a))
        prev = b
    parts.append(text[prev:])
    return "".join(parts)


def own_words(text: str, analysis: Analysis) -> str:
    """`text` without its reported spans and attribution clauses, whitespace collapsed; empty
    when nothing else is left. Attribution clauses go too: a model trained on sentences whose
    quotes are loaded learns « a dénoncé » as a sign of loading, and the neutral verbs of saying
    they hold are not the author's framing (loaded ones, « prétextant », stay)."""
    own = _mask(text, merge([*analysis.reported, *analysis.attribution]))
    return " ".join(own.split()) if _WORD.search(own) else ""


def rule_voice(text: str, cue_spans: Sequence[Span] | None = None, *,
               quotes: Sequence[Span] | None = None) -> str:
    """`reported` when all framing cues (or, without cues, all the sentence's own words outside
    attribution clauses) lie inside reported spans, else `author`."""
    return voice_of(text, analyze(text, quotes=quotes), cue_spans)
