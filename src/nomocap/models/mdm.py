"""The joint-space denoiser (MDM-style): a transformer over motion frames that predicts the clean motion.

One condition token (timestep embedding + projected pooled text embedding) is prepended to the
frames; padded frames are masked out of attention. With ``patch > 1`` each token covers that many
consecutive frames (motions are multiples of 4 frames long): attention is ``patch^2`` times cheaper,
which is what makes CPU training practical; ``patch = 1`` is MDM's one token per frame.
Classifier-free guidance: the training loop replaces the condition by the null text's embedding with
probability ``cond_dropout``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from nomocap.models.layers import Block, sinusoid


@dataclass
class MDMConfig:
    feature_dim: int = 263
    text_dim: int = 384
    width: int = 256
    layers: int = 4
    heads: int = 4
    mlp_mult: int = 4
    dropout: float = 0.1
    max_frames: int = 196
    cond_dropout: float = 0.1
    patch: int = 1


class MDM(nn.Module):
    arch = "mdm"
    frame_space = True  # the sampler runs on frames (padding masked), not on latents

    def __init__(self, config: MDMConfig):
        super().__init__()
        self.config = c = config
        self.input = nn.Linear(c.feature_dim * c.patch, c.width)
        self.time_mlp = nn.Sequential(nn.Linear(c.width, c.width), nn.SiLU(), nn.Linear(c.width, c.width))
        self.text_proj = nn.Linear(c.text_dim, c.width)
        self.blocks = nn.ModuleList(Block(c.width, c.heads, c.mlp_mult, c.dropout) for _ in range(c.layers))
        self.norm = nn.LayerNorm(c.width)
        self.output = nn.Linear(c.width, c.feature_dim * c.patch)
        tokens = -(-c.max_frames // c.patch)
        self.register_buffer("positions", sinusoid(torch.arange(tokens + 1), c.width), persistent=False)

    def sample_shape(self, batch: int, frames: int) -> tuple[int, ...]:
        return (batch, frames, self.config.feature_dim)

    def decode(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return x * mask[..., None]

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        """``x [B, T, D]`` noisy motion, ``t [B]`` timesteps, ``cond [B, text_dim]``, ``mask [B, T]`` valid frames."""
        b, n, d = x.shape
        p = self.config.patch
        if n > self.config.max_frames:
            raise ValueError(f"{n} frames exceed the model's maximum of {self.config.max_frames}")
        if n % p:
            raise ValueError(f"{n} frames is not a multiple of the model's patch of {p} frames")
        token = self.time_mlp(sinusoid(t, self.config.width)) + self.text_proj(cond)
        frames = self.input(x.reshape(b, n // p, p * d))
        h = torch.cat([token[:, None], frames], dim=1) + self.positions[: n // p + 1]
        key_mask = None
        if mask is not None:
            key_mask = torch.cat([mask.new_ones(b, 1), mask[:, ::p].bool()], dim=1)
        for block in self.blocks:
            h = block(h, key_mask)
        return self.output(self.norm(h[:, 1:])).reshape(b, n, d)
