"""Training of the two text-motion embedding models: ``retrieval`` (TMR, the reward) and ``evaluator`` (T2M).

Both read a corpus's training split, pair random crops with random captions, and run the shared loop
(``nomocap.training.fit``); each keeps its own normalisation (the corpus's Mean/Std) in its checkpoint.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from rich.console import Console
from torch import nn

from nomocap.checkpoint import load_config, load_weights
from nomocap.data.humanml import load_corpus
from nomocap.motion.features import Normalizer
from nomocap.pretrain import MotionBatcher
from nomocap.retrieval.evaluator import EvaluatorConfig, T2MEvaluator
from nomocap.retrieval.tmr import TMR, TMRConfig
from nomocap.text.encoder import CachedEncoder, load_text_encoder, pad_tokens
from nomocap.training import Stopped, TrainConfig, fit, preset_values

KINDS = ("retrieval", "evaluator")


@dataclass
class EmbeddingTrainConfig(TrainConfig):
    kind: str = "retrieval"

    @classmethod
    def from_preset(cls, kind: str, preset: str, **overrides) -> EmbeddingTrainConfig:
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}: choose one of {KINDS}")
        return cls(kind=kind, **preset_values(kind, preset, overrides))


def build_embedding_model(kind: str, model_config: dict) -> nn.Module:
    return TMR(TMRConfig(**model_config)) if kind == "retrieval" else T2MEvaluator(EvaluatorConfig(**model_config))


class CaptionTable:
    """Token vectors (float16, unpadded) and sentence vectors of every caption, for fast batching."""

    def __init__(self, encoder: CachedEncoder, texts: list[str]):
        self.pooled, self.tokens = [], []
        for i in range(0, len(texts), 256):
            emb = encoder.encode(texts[i : i + 256])
            self.pooled.append(emb.pooled)
            self.tokens += [emb.tokens[j, emb.mask[j]].half() for j in range(len(emb.pooled))]
        self.pooled = torch.cat(self.pooled)
        self.max_tokens = encoder.max_tokens

    def batch(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        tokens, mask = pad_tokens([self.tokens[i].float() for i in ids.tolist()], self.max_tokens)
        return tokens, mask, self.pooled[ids]


def train_embedding_model(data: str | Path, out: str | Path, cfg: EmbeddingTrainConfig, resume: bool = False,
                          console: Console | None = None, stop_after: int | None = None, device: str = "cpu",
                          tensorboard: bool = False) -> Path:
    console = console or Console()
    out = Path(out)
    corpus = load_corpus(data, "train")
    encoder = load_text_encoder(cfg.text_encoder, out / ".text_cache")
    texts = sorted({c.text for it in corpus.items for c in it.texts})
    with console.status(f"encoding {len(texts)} captions"):
        table = CaptionTable(encoder, texts)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    batcher = MotionBatcher(corpus, {t: i for i, t in enumerate(texts)}, cfg.crop_frames, gen, device)
    model_cfg = {"feature_dim": corpus.skeleton.feature_dim, "text_dim": encoder.dim, **cfg.model}
    model = build_embedding_model(cfg.kind, model_cfg).to(device)

    def loss_fn(step: int) -> torch.Tensor:
        x, mask, caps = batcher(cfg.batch_size)
        tokens, token_mask, pooled = (t.to(device) for t in table.batch(caps))
        if cfg.kind == "retrieval":
            loss, _ = model.loss(model.encode_motion(x, mask), model.encode_text(tokens, token_mask), pooled, x, mask)
        else:
            loss, _ = model.loss(model.encode_motion(x, mask), model.encode_text(tokens, token_mask), gen)
        return loss

    config = {"kind": cfg.kind, "text_encoder": cfg.text_encoder, "skeleton": corpus.skeleton.name,
              "data": str(Path(data).resolve()), "model": model_cfg, "train": asdict(cfg)}
    extra = {"normalizer.mean": torch.from_numpy(corpus.normalizer.mean),
             "normalizer.std": torch.from_numpy(corpus.normalizer.std)}
    try:
        fit(model, loss_fn, out, cfg.steps, cfg, gen, config, extra, resume, console, f"train {cfg.kind}", stop_after,
            tensorboard)
    except Stopped:
        pass
    return out


@dataclass
class EmbeddingModel:
    """A trained retrieval model or evaluator with its normalisation and text encoder."""

    kind: str
    model: nn.Module
    normalizer: Normalizer
    encoder: CachedEncoder

    @classmethod
    def load(cls, run: str | Path, kind: str, cache_dir: str | Path | None = None) -> EmbeddingModel:
        config = load_config(run, kind=kind)
        model = build_embedding_model(kind, config["model"])
        tensors = load_weights(model, run)
        model.requires_grad_(False)  # a loaded scorer is never trained (draft backpropagates through, not into it)
        normalizer = Normalizer(tensors["normalizer.mean"].numpy(), tensors["normalizer.std"].numpy())
        encoder = load_text_encoder(config["text_encoder"], cache_dir, exact=True)
        return cls(kind, model, normalizer, encoder)

    @torch.no_grad()
    def embed_motions(self, features: list, batch_size: int = 64) -> torch.Tensor:
        """De-normalised features ``[T_i, D]`` (numpy or torch) -> embeddings ``[N, E]`` (means for TMR)."""
        out = []
        for i in range(0, len(features), batch_size):
            chunk = [torch.as_tensor(f, dtype=torch.float32) for f in features[i : i + batch_size]]
            x = torch.zeros(len(chunk), max(len(f) for f in chunk), chunk[0].shape[1])
            mask = torch.zeros(x.shape[:2], dtype=torch.bool)
            for j, f in enumerate(chunk):
                x[j, : len(f)], mask[j, : len(f)] = f, True
            out.append(self.embed_motion_batch(x, mask))
        return torch.cat(out)

    def embed_motion_batch(self, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """De-normalised, padded features ``[B, T, D]`` with ``mask [B, T]`` -> embeddings ``[B, E]``;
        differentiable in ``features`` (padding is zero in the normalised space, as in training)."""
        x = self.normalizer.normalize(features) * mask[..., None]
        emb = self.model.encode_motion(x, mask)
        return emb[0] if isinstance(emb, tuple) else emb

    @torch.no_grad()
    def embed_texts(self, texts: list[str]) -> torch.Tensor:
        emb = self.encoder.encode(texts)
        out = self.model.encode_text(emb.tokens, emb.mask)
        return out[0] if isinstance(out, tuple) else out
