"""What every backend returns for a batch of sentences: raw head outputs, before thresholds."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# A cue span a model's token-level head found: (start, end, confidence), offsets in the sentence.
CueSpan = tuple[int, int, float]


@dataclass
class HeadOutputs:
    loaded_logit: np.ndarray  # (n,) uncalibrated score; calibration maps it to a probability
    techniques: np.ndarray  # (n, n_techniques) independent probabilities
    stance: np.ndarray  # (n, n_stance) probabilities summing to 1
    voice: np.ndarray  # (n, n_voice) probabilities summing to 1
    cue_spans: list[list[CueSpan]] | None = None  # per sentence, from a cue head; None: the model has none

    def __len__(self) -> int:
        return len(self.loaded_logit)

    def take(self, idx: np.ndarray) -> "HeadOutputs":
        """The rows `idx`, in that order (cue spans dropped: only scoring reads them)."""
        return HeadOutputs(self.loaded_logit[idx], self.techniques[idx], self.stance[idx], self.voice[idx])

    @staticmethod
    def concat(parts: list["HeadOutputs"]) -> "HeadOutputs":
        """The rows of each part, one part after the other (cue spans dropped)."""
        return HeadOutputs(*(np.concatenate([getattr(p, f) for p in parts])
                             for f in ("loaded_logit", "techniques", "stance", "voice")))


def cue_spans_from_tags(probs: np.ndarray, offsets: np.ndarray) -> list[CueSpan]:
    """Character spans from one sentence's per-token O/B/I probabilities (tokens, 3) and token
    offsets (tokens, 2): a span starts at a B, or at an I that follows an O, and runs over the
    I tokens after it; special and padding tokens have empty offsets and are skipped. The
    confidence is the mean probability of the tokens' tags."""
    spans: list[CueSpan] = []
    current: list | None = None  # [start, end, sum of confidences, tokens]
    for (a, b), p in zip(offsets.tolist(), probs):
        if a == b:
            continue
        tag = int(np.argmax(p))
        if tag == 0 or (tag == 1 and current is not None):
            if current is not None:
                spans.append((current[0], current[1], round(current[2] / current[3], 4)))
            current = None
        if tag in (1, 2):
            if current is None:
                current = [a, b, 0.0, 0]
            current[1] = b
            current[2] += float(p[tag])
            current[3] += 1
    if current is not None:
        spans.append((current[0], current[1], round(current[2] / current[3], 4)))
    return spans
