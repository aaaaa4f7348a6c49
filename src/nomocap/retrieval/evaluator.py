"""The T2M evaluator family (Guo et al. 2022): the network that *grades* generated motion.

Motion: a convolutional movement encoder (two stride-2 convolutions: 4x temporal downsampling; the
foot-contact channels are dropped) feeding a bidirectional GRU; text: a bidirectional GRU over the
frozen text encoder's token vectors (where T2M used GloVe + POS). Trained with the contrastive margin
loss on Euclidean distances, negatives made by shifting the batch. It differs from the reward model
in architecture (convolution + GRU vs transformer), loss (margin vs InfoNCE), geometry (Euclidean vs
cosine), normalisation (its own Mean/Std) and seed, so a policy tuned on the reward is not graded by
the same network.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class EvaluatorConfig:
    feature_dim: int = 263
    text_dim: int = 384
    movement_dim: int = 256
    hidden: int = 256
    output_dim: int = 256
    margin: float = 10.0
    max_tokens: int = 64


class T2MEvaluator(nn.Module):
    kind = "evaluator"

    def __init__(self, config: EvaluatorConfig):
        super().__init__()
        self.config = c = config
        self.movement = nn.Sequential(
            nn.Conv1d(c.feature_dim - 4, c.movement_dim, 4, 2, 1), nn.Dropout(0.2), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv1d(c.movement_dim, c.movement_dim, 4, 2, 1), nn.Dropout(0.2), nn.LeakyReLU(0.2, inplace=True))
        self.movement_out = nn.Linear(c.movement_dim, c.movement_dim)
        self.motion_gru = nn.GRU(c.movement_dim, c.hidden, batch_first=True, bidirectional=True)
        self.motion_out = nn.Sequential(nn.Linear(2 * c.hidden, c.hidden), nn.LayerNorm(c.hidden),
                                        nn.LeakyReLU(0.2, inplace=True), nn.Linear(c.hidden, c.output_dim))
        self.text_in = nn.Linear(c.text_dim, c.hidden)
        self.text_gru = nn.GRU(c.hidden, c.hidden, batch_first=True, bidirectional=True)
        self.text_out = nn.Sequential(nn.Linear(2 * c.hidden, c.hidden), nn.LayerNorm(c.hidden),
                                      nn.LeakyReLU(0.2, inplace=True), nn.Linear(c.hidden, c.output_dim))

    @staticmethod
    def _last_states(gru: nn.GRU, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.clamp_min(1).cpu(), batch_first=True,
                                                   enforce_sorted=False)
        _, hidden = gru(packed)
        return torch.cat([hidden[0], hidden[1]], dim=-1)

    def encode_motion(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Normalised features ``[B, T, D]`` -> ``[B, output_dim]``."""
        x = x[..., :-4] * mask[..., None]  # foot contacts dropped
        h = self.movement_out(self.movement(x.transpose(1, 2)).transpose(1, 2))
        lengths = (mask.sum(1) // 4).clamp(max=h.shape[1])
        return self.motion_out(self._last_states(self.motion_gru, h, lengths))

    def encode_text(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        tokens, mask = tokens[:, : self.config.max_tokens], mask[:, : self.config.max_tokens]
        return self.text_out(self._last_states(self.text_gru, self.text_in(tokens), mask.sum(1)))

    def loss(self, motion_emb: torch.Tensor, text_emb: torch.Tensor,
             generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        """Contrastive margin loss; negatives pair each motion with the text ``shift`` places away."""
        b = len(motion_emb)
        shift = int(torch.randint(1, max(2, b), (1,), generator=generator))
        pos = F.pairwise_distance(motion_emb, text_emb)
        neg = F.pairwise_distance(motion_emb, text_emb.roll(shift, dims=0))
        loss = (pos**2).mean() + (F.relu(self.config.margin - neg) ** 2).mean()
        return loss, {"pos": pos.mean().item(), "neg": neg.mean().item()}
