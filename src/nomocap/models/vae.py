"""Motion VAE (MLD-style): a transformer squeezes a variable-length motion into a few latent tokens.

Encoder: learned ``mu`` / ``logvar`` query tokens attend over the (patched) frames; decoder: the
latent tokens plus one positional query per frame patch, decoded back to features. The latent
diffusion model (``mld.py``) denoises these tokens instead of frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from nomocap.models.layers import Block, sinusoid


@dataclass
class VAEConfig:
    feature_dim: int = 263
    width: int = 128
    layers: int = 3
    heads: int = 4
    mlp_mult: int = 2
    dropout: float = 0.0
    latent_tokens: int = 2
    latent_dim: int = 64
    patch: int = 4
    max_frames: int = 196
    kl_weight: float = 1e-4


class MotionVAE(nn.Module):
    def __init__(self, config: VAEConfig):
        super().__init__()
        self.config = c = config
        self.input = nn.Linear(c.feature_dim * c.patch, c.width)
        self.queries = nn.Parameter(torch.randn(2 * c.latent_tokens, c.width) * 0.02)
        self.encoder = nn.ModuleList(Block(c.width, c.heads, c.mlp_mult, c.dropout) for _ in range(c.layers))
        self.to_latent = nn.Linear(c.width, c.latent_dim)
        self.from_latent = nn.Linear(c.latent_dim, c.width)
        self.decoder = nn.ModuleList(Block(c.width, c.heads, c.mlp_mult, c.dropout) for _ in range(c.layers))
        self.norm = nn.LayerNorm(c.width)
        self.output = nn.Linear(c.width, c.feature_dim * c.patch)
        tokens = -(-c.max_frames // c.patch)
        self.register_buffer("positions", sinusoid(torch.arange(tokens), c.width), persistent=False)

    def _patches(self, n: int) -> int:
        if n % self.config.patch:
            raise ValueError(f"{n} frames is not a multiple of the VAE's patch of {self.config.patch}")
        return n // self.config.patch

    def encode(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x [B, T, D]`` -> ``mu, logvar [B, K, latent_dim]``."""
        b, n, d = x.shape
        p, k = self.config.patch, self.config.latent_tokens
        frames = self.input(x.reshape(b, self._patches(n), p * d)) + self.positions[: n // p]
        h = torch.cat([self.queries.expand(b, -1, -1), frames], dim=1)
        key_mask = torch.cat([mask.new_ones(b, 2 * k), mask[:, ::p]], dim=1).bool()
        for block in self.encoder:
            h = block(h, key_mask)
        stats = self.to_latent(h[:, : 2 * k])
        return stats[:, :k], stats[:, k:].clamp(-10, 10)

    def decode(self, z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``z [B, K, latent_dim]`` and the frames to fill ``mask [B, T]`` -> features ``[B, T, D]``."""
        b, n = mask.shape
        p, k = self.config.patch, z.shape[1]
        queries = self.positions[: self._patches(n)].expand(b, -1, -1)
        h = torch.cat([self.from_latent(z), queries], dim=1)
        key_mask = torch.cat([mask.new_ones(b, k), mask[:, ::p]], dim=1).bool()
        for block in self.decoder:
            h = block(h, key_mask)
        out = self.output(self.norm(h[:, k:])).reshape(b, n, -1)
        return out * mask[..., None]

    def loss(self, x: torch.Tensor, mask: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        mu, logvar = self.encode(x, mask)
        z = mu + torch.randn(mu.shape, generator=generator).to(mu.device) * torch.exp(0.5 * logvar)
        recon = self.decode(z, mask)
        m = mask[..., None].float()
        rec = (((recon - x) ** 2) * m).sum() / (m.sum() * x.shape[-1])
        kl = -0.5 * torch.mean(1 + logvar - mu**2 - logvar.exp())
        return rec + self.config.kl_weight * kl
