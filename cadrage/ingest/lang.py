"""Language identification (lingua), restricted to a dozen languages and built once, lazily."""
from __future__ import annotations

import threading

LANGUAGES = ("FRENCH", "ENGLISH", "GERMAN", "SPANISH", "ITALIAN", "PORTUGUESE", "DUTCH",
             "RUSSIAN", "UKRAINIAN", "POLISH", "ARABIC", "TURKISH")
SAMPLE_CHARS = 600
MIN_CHARS = 40
_detector = None
_lock = threading.Lock()


def get_detector():
    global _detector
    if _detector is None:
        with _lock:
            if _detector is None:
                from lingua import Language, LanguageDetectorBuilder

                langs = [getattr(Language, name) for name in LANGUAGES]
                # low-accuracy mode loads only the trigram models: small and fast, and plenty
                # for article-length text
                _detector = LanguageDetectorBuilder.from_languages(*langs).with_low_accuracy_mode().build()
    return _detector


def detect_language(text: str) -> tuple[str | None, float]:
    """(ISO 639-1 code in lower case, confidence) of `text`, or (None, 0.0) when too short."""
    sample = text[:SAMPLE_CHARS]
    if sum(ch.isalpha() for ch in sample) < MIN_CHARS:
        return None, 0.0
    values = get_detector().compute_language_confidence_values(sample)
    if not values:
        return None, 0.0
    top = values[0]
    return top.language.iso_code_639_1.name.lower(), float(top.value)


def non_french_warning(text: str, name: str) -> str | None:
    """A warning when `text` is confidently not French, else None."""
    code, conf = detect_language(text)
    if code is None or code == "fr" or conf < 0.5:
        return None
    return f"{name}: text looks {code.upper()} (confidence {conf:.2f}), not French; scores will not be meaningful"
