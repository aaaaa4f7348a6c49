"""Best-of-n sampling: draw n motions per prompt and keep the one a reward scores highest.

The inference-time baseline that RL post-training is measured against, and a ceiling for it: RL
re-weights what the base model samples towards what the reward prefers, so the best of the base's own
n samples shows what that re-weighting can at most buy at the base's diversity — and, scored by an
independent evaluator, whether the reward's preferences are the evaluator's at all.
"""

from __future__ import annotations

import torch

from nomocap.diffusion.samplers import Sampler
from nomocap.pipeline import MotionPipeline, Samples
from nomocap.rewards import MotionBatch, Reward


class BestOfN:
    """A ``MotionPipeline`` whose ``sample`` returns, per prompt, the best of ``n`` draws under ``reward``.

    Everything else (samplers, conversions, representation) is the wrapped pipeline's.
    """

    def __init__(self, pipe: MotionPipeline, reward: Reward, n: int):
        if n < 1:
            raise ValueError(f"best-of-n needs n >= 1, got {n}")
        self.pipe, self.reward, self.n = pipe, reward, n

    def __getattr__(self, name: str):
        return getattr(self.pipe, name)

    def sample(self, prompts: list[str], lengths: list[int], sampler: Sampler, guidance: float = 2.5,
               generator: torch.Generator | None = None) -> Samples:
        return self.draw(prompts, lengths, sampler, guidance, generator)[0]

    def draw(self, prompts: list[str], lengths: list[int], sampler: Sampler, guidance: float = 2.5,
             generator: torch.Generator | None = None, frames: int | None = None) -> tuple[Samples, torch.Tensor]:
        """The best draw per prompt, and every draw's score ``[len(prompts), n]`` (NaN: a non-finite motion)."""
        n = self.n
        drawn = self.pipe.sample([p for p in prompts for _ in range(n)], [t for t in lengths for _ in range(n)],
                                 sampler, guidance, generator, frames=frames)
        scores, _ = self.reward(MotionBatch(self.pipe.to_features(drawn), self.pipe.representation), drawn.prompts)
        scores = torch.as_tensor(scores, dtype=torch.float64).view(len(prompts), n)
        best = torch.nan_to_num(scores, nan=-torch.inf).argmax(1) + torch.arange(len(prompts)) * n
        return Samples(drawn.features[best], drawn.mask[best], list(prompts), drawn.latents[best]), scores
