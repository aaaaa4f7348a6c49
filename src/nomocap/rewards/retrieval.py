"""The paper's reward: cosine similarity between a retrieval model's text and motion embeddings."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from nomocap.eval.precision import swap_instruction
from nomocap.retrieval.train import EmbeddingModel
from nomocap.rewards import MotionBatch


class RetrievalReward:
    """``cos(text, motion)``; with ``contrastive`` minus the mean cosine with the batch's other prompts,
    so a motion is rewarded for matching its prompt *and not* the others; with ``twin`` minus the cosine with
    the prompt's swapped twin ("left" <-> "right", "clockwise" <-> "counterclockwise", "forward" <->
    "backward"), so that doing the other side costs as much as doing the side asked earns. A prompt without
    such a word has no twin and keeps its other terms."""

    def __init__(self, model: EmbeddingModel, contrastive: bool = False, name: str | None = None,
                 twin: bool = False):
        self.model, self.contrastive, self.twin = model, contrastive, twin
        self.name = name or "tmr" + ("_contrastive" if contrastive else "") + ("_twin" if twin else "")
        self._texts: dict[str, torch.Tensor] = {}

    @classmethod
    def from_run(cls, run: str | Path, contrastive: bool = False, cache_dir: str | Path | None = None,
                 name: str | None = None, twin: bool = False):
        return cls(EmbeddingModel.load(run, "retrieval", cache_dir), contrastive, name, twin)

    def text_embeddings(self, prompts: list[str]) -> torch.Tensor:
        for p in dict.fromkeys(prompts):
            if p not in self._texts:  # one at a time: a prompt's vector never depends on its batch-mates
                self._texts[p] = F.normalize(self.model.embed_texts([p])[0], dim=-1)
        return torch.stack([self._texts[p] for p in prompts])

    @torch.no_grad()
    def __call__(self, motions: MotionBatch, prompts: list[str]) -> tuple[torch.Tensor, dict[str, float]]:
        scores = torch.full((len(motions),), float("nan"))
        feats = motions.guo_features
        ok = [i for i, f in enumerate(feats) if f is not None]
        if not ok:
            return scores, {"invalid": float(len(motions))}
        motion = self.model.embed_motions([feats[i] for i in ok])
        scores[ok] = self._scores(motion, [prompts[i] for i in ok]).float()
        return scores, {"invalid": float(len(motions) - len(ok))}

    def differentiable(self, features: torch.Tensor, mask: torch.Tensor, prompts: list[str]) -> torch.Tensor:
        """The same scores as a differentiable function of de-normalised HumanML3D features ``[B, T, D]``
        (``mask [B, T]``: valid frames): what reward-gradient fine-tuning (``rl/draft.py``) climbs."""
        device = next(self.model.model.parameters()).device
        return self._scores(self.model.embed_motion_batch(features.to(device), mask.to(device)), prompts)

    def _scores(self, motion: torch.Tensor, prompts: list[str]) -> torch.Tensor:
        motion = F.normalize(motion, dim=-1)
        cos = self.text_embeddings(prompts).to(motion) @ motion.T  # prompt i against motion j
        own = cos.diagonal()
        if self.contrastive:
            other = torch.tensor([[a != b for b in prompts] for a in prompts], device=cos.device)
            own = own - (cos.T * other).sum(1) / other.sum(1).clamp_min(1)
        if self.twin:
            twins = [swap_instruction(p) for p in prompts]
            has_twin = torch.tensor([t != p for t, p in zip(twins, prompts)], device=cos.device)
            twin_cos = (self.text_embeddings(twins).to(motion) * motion).sum(-1)
            own = own - twin_cos * has_twin
        return own
