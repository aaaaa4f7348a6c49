"""Latent diffusion (MLD / StableMoFusion-style): a transformer denoiser over the VAE's latent tokens.

The sampler runs in latent space (``[B, K, latent_dim]``, scaled to unit variance by
``latent_scale``); ``decode`` turns the clean latents into features of the requested length with the
frozen VAE. Same sampler interface as the joint-space model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from nomocap.models.layers import Block, sinusoid
from nomocap.models.vae import MotionVAE, VAEConfig


@dataclass
class MLDConfig:
    text_dim: int = 384
    width: int = 128
    layers: int = 4
    heads: int = 4
    mlp_mult: int = 4
    dropout: float = 0.1
    cond_dropout: float = 0.1
    vae: dict = field(default_factory=dict)


class LatentDenoiser(nn.Module):
    arch = "mld"
    frame_space = False

    def __init__(self, config: MLDConfig):
        super().__init__()
        self.config = c = config
        self.vae = MotionVAE(VAEConfig(**c.vae))
        self.vae.requires_grad_(False)
        v = self.vae.config
        self.input = nn.Linear(v.latent_dim, c.width)
        self.time_mlp = nn.Sequential(nn.Linear(c.width, c.width), nn.SiLU(), nn.Linear(c.width, c.width))
        self.text_proj = nn.Linear(c.text_dim, c.width)
        self.blocks = nn.ModuleList(Block(c.width, c.heads, c.mlp_mult, c.dropout) for _ in range(c.layers))
        self.norm = nn.LayerNorm(c.width)
        self.output = nn.Linear(c.width, v.latent_dim)
        self.register_buffer("positions", sinusoid(torch.arange(v.latent_tokens + 1), c.width), persistent=False)
        self.register_buffer("latent_scale", torch.ones(()))

    def forward(self, z: torch.Tensor, t: torch.Tensor, cond: torch.Tensor, mask: torch.Tensor | None = None):
        """``z [B, K, latent_dim]`` (scaled) -> clean-latent prediction; ``mask`` is ignored (latents are whole)."""
        token = self.time_mlp(sinusoid(t, self.config.width)) + self.text_proj(cond)
        h = torch.cat([token[:, None], self.input(z)], dim=1) + self.positions[: z.shape[1] + 1]
        for block in self.blocks:
            h = block(h)
        return self.output(self.norm(h[:, 1:]))

    def sample_shape(self, batch: int, frames: int) -> tuple[int, ...]:
        return (batch, self.vae.config.latent_tokens, self.vae.config.latent_dim)

    def encode(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        mu, _ = self.vae.encode(x, mask)
        return mu / self.latent_scale

    def decode(self, z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.vae.decode(z * self.latent_scale, mask)
