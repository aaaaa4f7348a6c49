"""Per-prompt advantage normalisation (DDPO's stat tracker), clipped."""

from __future__ import annotations

from collections import deque

import numpy as np


class PerPromptStatTracker:
    """Normalises each reward by the mean and std of recent rewards *for the same prompt*.

    A prompt seen fewer than ``min_count`` times falls back to the statistics of the whole batch.
    """

    def __init__(self, buffer_size: int = 32, min_count: int = 4, clip: float = 5.0):
        self.buffer_size, self.min_count, self.clip = buffer_size, min_count, clip
        self.history: dict[str, deque] = {}

    def update(self, prompts: list[str], rewards: np.ndarray) -> np.ndarray:
        rewards = np.asarray(rewards, dtype=np.float64)
        finite = np.isfinite(rewards)
        advantages = np.zeros_like(rewards)
        if not finite.any():
            return advantages
        batch_mean, batch_std = rewards[finite].mean(), rewards[finite].std() + 1e-6
        for prompt in set(np.asarray(prompts, dtype=object)[finite]):
            hist = self.history.setdefault(prompt, deque(maxlen=self.buffer_size))
            hist.extend(rewards[[i for i, p in enumerate(prompts) if p == prompt and finite[i]]])
        for i, (prompt, r) in enumerate(zip(prompts, rewards)):
            if not finite[i]:
                continue
            hist = self.history[prompt]
            if len(hist) >= self.min_count:
                mean, std = float(np.mean(hist)), float(np.std(hist)) + 1e-6
            else:
                mean, std = batch_mean, batch_std
            advantages[i] = (r - mean) / std
        return np.clip(advantages, -self.clip, self.clip)

    def state_dict(self) -> dict:
        return {k: list(v) for k, v in self.history.items()}

    def load_state_dict(self, state: dict) -> None:
        self.history = {k: deque(v, maxlen=self.buffer_size) for k, v in state.items()}
