"""Text -> motion: a denoiser, a noise schedule, a sampler, a text encoder and the corpus normalisation.

``MotionPipeline.sample`` runs classifier-free-guided denoising and can return every step's
``(x, x_prev, log_prob, prev_x0)``, which is what RL stores (DDPO's trajectory).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from nomocap.diffusion.guidance import check_guidance, guided_prediction
from nomocap.diffusion.samplers import Sampler, make_sampler
from nomocap.diffusion.schedules import NoiseSchedule
from nomocap.motion.features import Normalizer
from nomocap.motion.representation import Representation, get_representation
from nomocap.motion.skeleton import T2M
from nomocap.text.encoder import CachedEncoder, load_text_encoder

UNIT = 4  # motion lengths are multiples of 4 frames, as in the corpora


@dataclass
class Trajectory:
    """What one rollout stores per denoising step (stacked over steps)."""

    latents: list[torch.Tensor] = field(default_factory=list)  # x before each step
    next_latents: list[torch.Tensor] = field(default_factory=list)
    log_probs: list[torch.Tensor] = field(default_factory=list)
    prev_x0: list[torch.Tensor | None] = field(default_factory=list)  # solver state (2M)
    x0: list[torch.Tensor] = field(default_factory=list)  # the guided clean-sample prediction made at the step
    trainable: list[bool] = field(default_factory=list)


@dataclass
class Samples:
    features: torch.Tensor  # [B, T, D], normalised
    mask: torch.Tensor  # [B, T] valid frames
    prompts: list[str]
    latents: torch.Tensor  # what the sampler produced: features (mdm) or latent tokens (mld)
    trajectory: Trajectory | None = None


def check_prompts(prompts: list[str]) -> list[str]:
    cleaned = [p.strip() if isinstance(p, str) else "" for p in prompts]
    if not cleaned:
        raise ValueError("no prompt given")
    empty = [i for i, p in enumerate(cleaned) if not p]
    if empty:
        raise ValueError(f"prompt {empty[0] + 1} is empty: describe the motion (the empty text is reserved for "
                         "the unconditional branch of classifier-free guidance)")
    return cleaned


def frames_for(seconds: float | None, fps: float, default: int = 120, max_frames: int = 196) -> int:
    if seconds is None:
        return default
    if not seconds > 0:
        raise ValueError(f"--length must be positive, got {seconds}")
    frames = int(round(seconds * fps / UNIT)) * UNIT
    if frames > max_frames:
        raise ValueError(f"--length {seconds} s is {frames} frames; the model generates at most {max_frames} "
                         f"({max_frames / fps:.1f} s)")
    return max(frames, UNIT * 10)


class MotionPipeline:
    def __init__(self, model: nn.Module, schedule: NoiseSchedule, normalizer: Normalizer, encoder: CachedEncoder,
                 device: str | torch.device = "cpu", representation: Representation | None = None):
        self.model, self.schedule, self.normalizer, self.encoder = model, schedule, normalizer, encoder
        self.device = torch.device(device)
        self.representation = representation or get_representation("guo", T2M)
        self.skeleton = self.representation.skeleton
        self._null: torch.Tensor | None = None
        # A LoRA adapter acts only at timesteps >= this (None: everywhere); see rl/ddpo.py, gate_adapter.
        self.adapter_min_timestep: int | None = None

    @classmethod
    def from_run(cls, run: str | Path, device: str = "cpu", cache_dir: str | Path | None = None,
                 adapter: str | Path | None = None, adapter_scale: float = 1.0) -> MotionPipeline:
        """The run's denoiser (with ``adapter``, its change times ``adapter_scale``: see ``lora.scale_adapter``)."""
        from nomocap.models.registry import load_denoiser, normalizer_tensors

        if adapter is None and adapter_scale != 1.0:
            raise ValueError("--adapter-scale scales a fine-tuned adapter: give it with --adapter DIR")
        model, config = load_denoiser(run)
        min_timestep = None
        if adapter is not None:
            from nomocap.models.lora import adapter_metadata, load_adapter

            model = load_adapter(model, adapter, run, adapter_scale)
            min_timestep = adapter_metadata(adapter).get("min_timestep")
        mean, std = normalizer_tensors(run)
        encoder = load_text_encoder(config["text_encoder"], cache_dir, exact=True)
        if encoder.dim != config["model"]["text_dim"]:
            raise ValueError(f"text encoder {config['text_encoder']} gives {encoder.dim}-d vectors, the model expects "
                             f"{config['model']['text_dim']}")
        schedule = NoiseSchedule.named(config["schedule"], config["diffusion_steps"])
        representation = get_representation(config.get("repr", "guo"), config.get("skeleton", "t2m"))
        pipe = cls(model.to(device), schedule, Normalizer(mean.numpy(), std.numpy()), encoder, device, representation)
        pipe.adapter_min_timestep = min_timestep
        return pipe

    @property
    def fps(self) -> float:
        return self.skeleton.fps

    def encode(self, prompts: list[str]) -> torch.Tensor:
        return self.encoder.encode(prompts).pooled.to(self.device)

    @property
    def null(self) -> torch.Tensor:
        if self._null is None:
            self._null = self.encode([""])
        return self._null

    def predict_x0(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor, mask: torch.Tensor,
                   guidance: float, model: nn.Module | None = None) -> torch.Tensor:
        """The guided clean-sample prediction of ``self.model`` (or of ``model``, e.g. its DDP wrapper).

        Below ``adapter_min_timestep`` the LoRA adapter is switched off: the base model denoises there.
        """
        gate = self.adapter_min_timestep
        if gate is not None and int(t.min()) < gate:
            if int(t.max()) >= gate:
                raise ValueError(f"one batch mixes timesteps on both sides of the adapter's gate ({gate})")
            with self.model.disable_adapter():
                return guided_prediction(self.model, x, t, cond, self.null, guidance, mask=mask)
        return guided_prediction(model or self.model, x, t, cond, self.null, guidance, mask=mask)

    def sampler(self, name: str = "dpm++", steps: int = 10, eta: float = 1.0) -> Sampler:
        return make_sampler(name, self.schedule, steps, eta)

    def sample(self, prompts: list[str], lengths: list[int], sampler: Sampler, guidance: float = 2.5,
               generator: torch.Generator | None = None, keep_trajectory: bool = False,
               frames: int | None = None,
               noise: Callable[[int, torch.Size], torch.Tensor] | None = None, grad_steps: int = 0) -> Samples:
        """Denoise from noise for each prompt; ``frames`` pads every sample to one length (default: the longest).

        ``noise(index, shape)``, when given, supplies the standard-normal draws instead of ``generator``:
        index -1 for the starting latent, then each step's index (RL uses it to correlate rollouts).
        ``grad_steps > 0``: the last that many steps, and the decoding, are recorded for autograd (reward-gradient
        fine-tuning backpropagates through them; the samples are the same).
        """
        prompts = check_prompts(prompts)
        check_guidance(guidance)
        if len(lengths) != len(prompts):
            raise ValueError(f"{len(prompts)} prompts but {len(lengths)} lengths")
        cond = self.encode(prompts)
        n, frames = len(prompts), frames or max(lengths)
        mask = torch.arange(frames)[None, :] < torch.tensor(lengths)[:, None]
        mask = mask.to(self.device)
        step_mask = self.step_mask(mask)
        shape = self.model.sample_shape(n, frames)
        x = (noise(-1, shape) if noise else torch.randn(shape, generator=generator)).to(self.device)
        traj = Trajectory() if keep_trajectory else None
        prev_x0 = None
        first_grad = len(sampler.timesteps) - grad_steps
        for i, t in enumerate(sampler.timesteps):
            with torch.set_grad_enabled(i >= first_grad):
                tt = torch.full((n,), int(t), device=self.device, dtype=torch.long)
                x0 = self.predict_x0(x, tt, cond, mask, guidance)
                out = sampler.step(x0, i, x, generator=generator, prev_x0=prev_x0, mask=step_mask,
                                   noise=noise(i, x.shape) if noise else None)
                if traj is not None:
                    traj.latents.append(x)
                    traj.next_latents.append(out.prev_sample)
                    traj.log_probs.append(out.log_prob)
                    traj.prev_x0.append(prev_x0)
                    traj.x0.append(out.x0)
                    traj.trainable.append(out.trainable)
                x, prev_x0 = out.prev_sample, out.x0
                if step_mask is not None:
                    x = x * step_mask[..., None]
        with torch.set_grad_enabled(grad_steps > 0):
            features = self.model.decode(x, mask)
        return Samples(features, mask, prompts, x, traj)

    @property
    def frame_space(self) -> bool:
        """Whether the sampler runs on frames (joint-space models) rather than on latents without a time axis."""
        return getattr(self.model, "frame_space", True)

    def step_mask(self, mask: torch.Tensor) -> torch.Tensor | None:
        """The frame mask in the sampler's space (None for latent models: latents have no padding)."""
        return mask if self.frame_space else None

    def to_features(self, samples: Samples) -> list[np.ndarray]:
        """De-normalised features ``[T_i, D]`` per sample (padding cut off)."""
        feats = self.normalizer.denormalize(samples.features.detach().float().cpu().numpy())
        lengths = samples.mask.sum(1).tolist()
        return [feats[i, : int(n)] for i, n in enumerate(lengths)]

    def to_joints(self, samples: Samples) -> list[np.ndarray]:
        return [self.representation.to_joints(f) for f in self.to_features(samples)]
