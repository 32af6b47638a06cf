"""The label schema (configs/labels.yaml): the one place where label names are defined."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from cadrage.paths import ROOT

DEFAULT_SCHEMA_PATH = ROOT / "configs" / "labels.yaml"


@dataclass(frozen=True)
class LabelSchema:
    """Techniques a model predicts, plus the stance and voice label sets."""

    techniques: tuple[str, ...]
    stance_labels: tuple[str, ...] = ("pro_kremlin", "anti_kremlin", "neutral")
    voice_labels: tuple[str, ...] = ("author", "reported")
    stance_target: str = "the Kremlin's narrative on the Russia-Ukraine crisis"
    all_techniques: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        known = set(self.all_techniques or self.techniques)
        unknown = [t for t in self.techniques if t not in known]
        if unknown:
            raise ValueError(f"label schema: unknown technique(s) {unknown}")
        if not self.techniques:
            raise ValueError("label schema: the technique list is empty")
        if len(set(self.techniques)) != len(self.techniques):
            raise ValueError("label schema: duplicate technique names")

    def to_dict(self) -> dict:
        return {
            "techniques": list(self.techniques),
            "stance_labels": list(self.stance_labels),
            "voice_labels": list(self.voice_labels),
            "stance_target": self.stance_target,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "LabelSchema":
        return cls(
            techniques=tuple(d["techniques"]),
            stance_labels=tuple(d["stance_labels"]),
            voice_labels=tuple(d["voice_labels"]),
            stance_target=d.get("stance_target", ""),
        )


def load_schema_file(path: str | Path = DEFAULT_SCHEMA_PATH) -> dict:
    """The raw schema file: every technique name, the default subset, stance, voice, topics."""
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def label_schema(techniques: list[str] | str | None = "default", path: str | Path = DEFAULT_SCHEMA_PATH) -> LabelSchema:
    """A LabelSchema for `techniques`: "default", "all", or an explicit list of names."""
    raw = load_schema_file(path)
    if techniques in (None, "default"):
        chosen = raw["default_techniques"]
    elif techniques == "all":
        chosen = raw["techniques"]
    else:
        chosen = list(techniques)
    return LabelSchema(
        techniques=tuple(chosen),
        stance_labels=tuple(raw["stance"]["labels"]),
        voice_labels=tuple(raw["voice"]["labels"]),
        stance_target=raw["stance"]["target"],
        all_techniques=tuple(raw["techniques"]),
    )
