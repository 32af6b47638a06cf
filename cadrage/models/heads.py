"""What every backend returns for a batch of sentences: raw head outputs, before thresholds."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class HeadOutputs:
    loaded_logit: np.ndarray  # (n,) uncalibrated score; calibration maps it to a probability
    techniques: np.ndarray  # (n, n_techniques) independent probabilities
    stance: np.ndarray  # (n, n_stance) probabilities summing to 1
    voice: np.ndarray  # (n, n_voice) probabilities summing to 1

    def __len__(self) -> int:
        return len(self.loaded_logit)
