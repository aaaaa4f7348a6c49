"""Pretraining of a text-to-motion denoiser on a HumanML3D-layout corpus: a loop you can read in one sitting.

AdamW with warm-up and cosine decay, EMA weights (what inference uses), masked x0-prediction loss,
condition dropout for classifier-free guidance, periodic atomic checkpoints and exact resume: the data
order, dropout RNG, optimizer and EMA are all in ``train_state.safetensors``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from rich.console import Console

from nomocap.checkpoint import load_metadata, load_tensors, prefixed
from nomocap.data.categories import check_category, motion_category
from nomocap.data.humanml import UNIT_LENGTH, load_corpus
from nomocap.diffusion.schedules import NoiseSchedule
from nomocap.models.mld import MLDConfig
from nomocap.models.registry import build_denoiser
from nomocap.models.vae import MotionVAE, VAEConfig
from nomocap.motion.representation import get_representation
from nomocap.text.encoder import load_text_encoder
from nomocap.training import Stopped, TrainConfig, fit, preset_values


@dataclass
class PretrainConfig(TrainConfig):
    arch: str = "mdm"
    repr: str = "guo"
    diffusion_steps: int = 1000
    schedule: str = "cosine"
    exclude_category: str | None = None
    vae: dict = field(default_factory=dict)  # mld only
    vae_steps: int = 1000  # mld only

    @classmethod
    def from_preset(cls, preset: str, **overrides) -> PretrainConfig:
        return cls(**preset_values("pretrain", preset, overrides))


class MotionBatcher:
    """Random crops (multiples of 4 frames) with a random caption each, padded, from a seeded generator.

    The draws are made on the CPU (the same data order on any device); motions and masks are moved to
    ``device``, caption indices stay on the CPU (they index tables on either).
    """

    def __init__(self, corpus, caption_index: dict[str, int], crop_frames: int, generator: torch.Generator,
                 device: str | torch.device = "cpu"):
        self.items = corpus.items
        self.feats = [torch.from_numpy(corpus.normalizer.normalize(it.features)).float() for it in corpus.items]
        self.captions = [[caption_index[c.text] for c in it.texts] for it in corpus.items]
        self.crop, self.gen, self.device = crop_frames, generator, device

    def __call__(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        picks = torch.randint(len(self.items), (batch_size,), generator=self.gen).tolist()
        crops, caps = [], []
        for i in picks:
            f = self.feats[i]
            length = max(UNIT_LENGTH, (min(len(f), self.crop) // UNIT_LENGTH) * UNIT_LENGTH)
            start = int(torch.randint(len(f) - length + 1, (1,), generator=self.gen))
            crops.append(f[start : start + length])
            caps.append(self.captions[i][int(torch.randint(len(self.captions[i]), (1,), generator=self.gen))])
        frames = max(len(c) for c in crops)
        x = torch.zeros(batch_size, frames, crops[0].shape[1])
        mask = torch.zeros(batch_size, frames, dtype=torch.bool)
        for j, c in enumerate(crops):
            x[j, : len(c)], mask[j, : len(c)] = c, True
        return x.to(self.device), mask.to(self.device), torch.tensor(caps)


def pretrain(data: str | Path, out: str | Path, cfg: PretrainConfig, resume: bool = False,
             console: Console | None = None, stop_after: int | None = None, device: str = "cpu",
             tensorboard: bool = False) -> Path:
    """Train and write ``out/{config.json, model.safetensors, train_state.safetensors, log.jsonl}`` (with
    ``tensorboard`` also ``out/tensorboard``).

    ``mld`` first trains the motion VAE in ``out/vae`` (resumable on its own), then the latent denoiser.
    ``stop_after`` ends the run early after that many steps, as a kill would (for resume tests).
    ``device`` is where the model trains; batches and random draws are made on the CPU and moved
    (``MotionBatcher``), so the data order is the same on any device.
    """
    console = console or Console()
    out = Path(out)
    if cfg.arch not in ("mdm", "mld"):
        raise ValueError(f"unknown --arch {cfg.arch!r}: choose mdm or mld")
    corpus = load_corpus(data, "train")
    if cfg.exclude_category:
        category = check_category(cfg.exclude_category)
        kept = [it for it in corpus.items if motion_category([c.text for c in it.texts]) != category]
        console.print(f"excluding {category}: {len(corpus.items) - len(kept)} of {len(corpus.items)} motions dropped")
        corpus.items = kept
    if not corpus.items:
        raise ValueError(f"no training motions left in {data}")
    encoder = load_text_encoder(cfg.text_encoder, out / ".text_cache")
    texts = sorted({c.text for it in corpus.items for c in it.texts})
    caption_index = {t: i for i, t in enumerate(texts)}
    with console.status(f"encoding {len(texts)} captions"):
        pooled = torch.cat([encoder.encode(texts[i : i + 512]).pooled for i in range(0, len(texts), 512)])
        null = encoder.encode([""]).pooled.to(device)
    pooled = pooled.to(device)
    representation = get_representation(cfg.repr, corpus.skeleton)
    for item in corpus.items:
        item.features = representation.from_features(item.features)
    corpus.normalizer = representation.normalizer(corpus.normalizer)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    batcher = MotionBatcher(corpus, caption_index, cfg.crop_frames, gen, device)
    feature_dim = representation.dim
    extra = {"normalizer.mean": torch.from_numpy(corpus.normalizer.mean),
             "normalizer.std": torch.from_numpy(corpus.normalizer.std)}
    base = {"repr": cfg.repr, "text_encoder": cfg.text_encoder, "skeleton": corpus.skeleton.name,
            "data": str(Path(data).resolve()), "train": asdict(cfg)}
    try:
        if cfg.arch == "mld":
            vae_cfg = {"feature_dim": feature_dim, "max_frames": corpus.skeleton.max_frames, **cfg.vae}
            vae = MotionVAE(VAEConfig(**vae_cfg)).to(device)
            vae_dir = out / "vae"
            vae_done = (vae_dir / "train_state.safetensors").exists() and \
                int(load_metadata(vae_dir / "train_state.safetensors")["step"]) >= cfg.vae_steps
            vae_ema = fit(vae, lambda step: vae.loss(*batcher(cfg.batch_size)[:2], generator=gen), vae_dir,
                           cfg.vae_steps, cfg, gen, {"kind": "vae", "model": vae_cfg, **base}, extra,
                           resume and vae_dir.exists(), console, "vae", stop_after, tensorboard) if not vae_done else \
                prefixed(load_tensors(vae_dir / "model.safetensors"), "model.")
            denoiser_fields = {f.name for f in dataclasses.fields(MLDConfig)}
            model_cfg = {"text_dim": encoder.dim, **{k: v for k, v in cfg.model.items() if k in denoiser_fields},
                         "vae": vae_cfg}
            model = build_denoiser("mld", model_cfg).to(device)
            model.vae.load_state_dict(vae_ema)
            with torch.no_grad():
                model.vae.eval()
                model.latent_scale.fill_(float(torch.cat([model.vae.encode(*batcher(cfg.batch_size)[:2])[0]
                                                          for _ in range(4)]).std()))
        else:
            model_cfg = {"feature_dim": feature_dim, "text_dim": encoder.dim, **cfg.model}
            model = build_denoiser("mdm", model_cfg).to(device)
        schedule = NoiseSchedule.named(cfg.schedule, cfg.diffusion_steps)

        def diffusion_loss(step: int) -> torch.Tensor:
            x0, mask, caps = batcher(cfg.batch_size)
            if cfg.arch == "mld":
                with torch.no_grad():
                    x0, mask = model.encode(x0, mask), None
            return denoising_loss(model, schedule, x0, mask, pooled[caps], null, model.config.cond_dropout, gen)

        config = {"kind": "denoiser", "arch": cfg.arch, "schedule": cfg.schedule,
                  "diffusion_steps": cfg.diffusion_steps, "model": model_cfg, **base}
        fit(model, diffusion_loss, out, cfg.steps, cfg, gen, config, extra, resume, console, f"pretrain {cfg.arch}",
            stop_after, tensorboard)
    except Stopped:
        pass
    return out


def denoising_loss(model: torch.nn.Module, schedule: NoiseSchedule, x0: torch.Tensor, mask: torch.Tensor | None,
                   cond: torch.Tensor, null: torch.Tensor, cond_dropout: float,
                   generator: torch.Generator, min_timestep: int = 0) -> torch.Tensor:
    """The masked x0-prediction loss at uniform random timesteps (from ``min_timestep`` up), with condition
    dropout (for CFG).

    ``x0`` lives in the denoiser's own space (normalised features, or VAE latents with ``mask=None``).
    """
    n, device = len(x0), x0.device
    # Drawn from the (CPU) generator, then moved: the same seed gives the same draws on any device.
    t = torch.randint(min_timestep, schedule.num_steps, (n,), generator=generator).to(device)
    noise = torch.randn(x0.shape, generator=generator).to(device)
    drop = (torch.rand(n, generator=generator) < cond_dropout).to(device)
    cond = torch.where(drop[:, None], null.expand(n, -1), cond)
    pred = model(schedule.add_noise(x0, noise, t).float(), t, cond, mask)
    m = mask[..., None].float() if mask is not None else torch.ones_like(x0[..., :1])
    return (((pred - x0) ** 2) * m).sum() / (m.sum() * x0.shape[-1])


def read_log(run: str | Path) -> list[dict]:
    """The run's log rows, keeping the latest row per step (a resumed run re-logs the steps after its checkpoint)."""
    rows: dict[int, dict] = {}
    for line in (Path(run) / "log.jsonl").read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            rows[row["step"]] = row
    return [rows[k] for k in sorted(rows)]
