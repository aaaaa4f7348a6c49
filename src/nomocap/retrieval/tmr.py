"""TMR-style text-motion retrieval model: the reward of RL post-training (paper section 4.2).

Two transformer encoders map a motion (HumanML3D features, patched) and a text (the frozen text
encoder's token vectors) into one latent space through learned distribution tokens (mean and
log-variance, as in TMR / TEMOS). Training: symmetric InfoNCE with temperature 0.1 over the batch,
with *negative filtering* — a pair whose captions are near-duplicates (sentence cosine > 0.8) is not
used as a negative — plus small KL terms towards N(0, I) and between the two modalities. With
``recon_weight > 0`` TMR's motion decoder is added: both the motion's and the text's latent (sampled,
reparameterised) must decode back to the motion (smooth L1 over valid frames), which keeps motion detail
in the latent (TMR/TEMOS); with 0 (the CPU presets) the model has no decoder at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from nomocap.models.layers import Block, sinusoid


@dataclass
class TMRConfig:
    feature_dim: int = 263
    text_dim: int = 384
    latent_dim: int = 256
    width: int = 256
    layers: int = 4
    heads: int = 4
    mlp_mult: int = 2
    dropout: float = 0.1
    patch: int = 4
    max_frames: int = 196
    max_tokens: int = 64
    temperature: float = 0.1
    filter_threshold: float = 0.8
    kl_weight: float = 1e-5
    recon_weight: float = 0.0


class _DistributionEncoder(nn.Module):
    """Transformer over input tokens with two learned tokens read out as (mu, logvar)."""

    def __init__(self, in_dim: int, c: TMRConfig, max_len: int):
        super().__init__()
        self.input = nn.Linear(in_dim, c.width)
        self.tokens = nn.Parameter(torch.randn(2, c.width) * 0.02)
        self.blocks = nn.ModuleList(Block(c.width, c.heads, c.mlp_mult, c.dropout) for _ in range(c.layers))
        self.norm = nn.LayerNorm(c.width)
        self.out = nn.Linear(c.width, c.latent_dim)
        self.register_buffer("positions", sinusoid(torch.arange(max_len + 2), c.width), persistent=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, n, _ = x.shape
        h = torch.cat([self.tokens.expand(b, -1, -1), self.input(x)], dim=1) + self.positions[: n + 2]
        key_mask = torch.cat([mask.new_ones(b, 2), mask], dim=1).bool()
        for block in self.blocks:
            h = block(h, key_mask)
        out = self.out(self.norm(h[:, :2]))
        return out[:, 0], out[:, 1].clamp(-10, 10)


class _MotionDecoder(nn.Module):
    """A latent vector and one positional query per patch -> the motion's patches (TEMOS/TMR's decoder)."""

    def __init__(self, c: TMRConfig, max_patches: int):
        super().__init__()
        self.latent = nn.Linear(c.latent_dim, c.width)
        self.blocks = nn.ModuleList(Block(c.width, c.heads, c.mlp_mult, c.dropout) for _ in range(c.layers))
        self.norm = nn.LayerNorm(c.width)
        self.out = nn.Linear(c.width, c.feature_dim * c.patch)
        self.register_buffer("positions", sinusoid(torch.arange(max_patches + 1), c.width), persistent=False)

    def forward(self, z: torch.Tensor, patch_mask: torch.Tensor) -> torch.Tensor:
        b, n = patch_mask.shape
        h = torch.cat([self.latent(z)[:, None], z.new_zeros(b, n, self.latent.out_features)], 1)
        h = h + self.positions[: n + 1]
        key_mask = torch.cat([patch_mask.new_ones(b, 1), patch_mask], dim=1).bool()
        for block in self.blocks:
            h = block(h, key_mask)
        return self.out(self.norm(h[:, 1:]))  # [B, n, patch * D]


class TMR(nn.Module):
    kind = "retrieval"

    def __init__(self, config: TMRConfig):
        super().__init__()
        self.config = c = config
        max_patches = -(-c.max_frames // c.patch)
        self.motion_encoder = _DistributionEncoder(c.feature_dim * c.patch, c, max_patches)
        self.text_encoder = _DistributionEncoder(c.text_dim, c, c.max_tokens)
        self.decoder = _MotionDecoder(c, max_patches) if c.recon_weight > 0 else None

    def decode(self, z: torch.Tensor, frames: int) -> torch.Tensor:
        """Latent ``[B, latent]`` -> normalised features ``[B, frames, D]``."""
        p = self.config.patch
        n = -(-frames // p)
        out = self.decoder(z, torch.ones(len(z), n, dtype=torch.bool, device=z.device))
        return out.reshape(len(z), n * p, -1)[:, :frames]

    def encode_motion(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised features ``[B, T, D]`` (T a multiple of the patch) -> ``(mu, logvar)``."""
        b, n, d = x.shape
        p = self.config.patch
        pad = (-n) % p
        if pad:
            x, mask = F.pad(x, (0, 0, 0, pad)), F.pad(mask, (0, pad))
        patches = (x * mask[..., None]).reshape(b, (n + pad) // p, p * d)
        return self.motion_encoder(patches, mask[:, ::p])

    def encode_text(self, tokens: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.text_encoder(tokens[:, : self.config.max_tokens], mask[:, : self.config.max_tokens])

    def loss(self, motion: tuple[torch.Tensor, torch.Tensor], text: tuple[torch.Tensor, torch.Tensor],
             sentence_emb: torch.Tensor, x: torch.Tensor | None = None,
             mask: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        """InfoNCE (+ KL); with a decoder, ``x``/``mask`` (the encoded motions) are the reconstruction target."""
        (m_mu, m_logvar), (t_mu, t_logvar) = motion, text
        logits = F.normalize(t_mu, dim=-1) @ F.normalize(m_mu, dim=-1).T / self.config.temperature
        logits = logits.masked_fill(negative_filter(sentence_emb, self.config.filter_threshold), float("-inf"))
        target = torch.arange(len(logits), device=logits.device)
        nce = (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
        kl = _kl(m_mu, m_logvar) + _kl(t_mu, t_logvar) + _kl_between(t_mu, t_logvar, m_mu, m_logvar)
        total, info = nce + self.config.kl_weight * kl, {"nce": nce.item(), "kl": kl.item()}
        if self.decoder is not None:
            if x is None or mask is None:
                raise ValueError("a TMR with a decoder needs the motions (x, mask) in its loss")
            recon = sum(_masked_smooth_l1(self.decode(_sample(mu, logvar), x.shape[1]), x, mask)
                        for mu, logvar in (motion, text))
            total = total + self.config.recon_weight * recon
            info["recon"] = recon.item()
        return total, info


def negative_filter(sentence_emb: torch.Tensor, threshold: float) -> torch.Tensor:
    """``[B, B]`` True where pair (i, j), i != j, has near-identical captions: not a negative."""
    sim = F.normalize(sentence_emb, dim=-1) @ F.normalize(sentence_emb, dim=-1).T
    return (sim > threshold) & ~torch.eye(len(sim), dtype=torch.bool, device=sim.device)


def _sample(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return mu + torch.randn_like(mu) * (0.5 * logvar).exp()


def _masked_smooth_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    per_frame = F.smooth_l1_loss(pred, target, reduction="none").mean(-1)
    return (per_frame * mask).sum() / mask.sum().clamp_min(1)


def _kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return -0.5 * torch.mean(1 + logvar - mu**2 - logvar.exp())


def _kl_between(mu1, logvar1, mu2, logvar2) -> torch.Tensor:
    return 0.5 * torch.mean(logvar2 - logvar1 + (logvar1.exp() + (mu1 - mu2) ** 2) / logvar2.exp() - 1)
