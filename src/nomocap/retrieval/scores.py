"""How good is a retrieval model? Text->motion and motion->text recall, and left/right separation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from nomocap.data.humanml import load_corpus
from nomocap.data.synth.captions import mirror_caption
from nomocap.retrieval.train import EmbeddingModel


def _recalls(sim: np.ndarray, ks=(1, 2, 3, 5, 10)) -> dict[str, float]:
    """``sim [N, N]`` query i's true match is item i; recall@k and median rank (1-based)."""
    ranks = (sim > np.diag(sim)[:, None]).sum(1) + 1
    out = {f"R@{k}": float((ranks <= k).mean()) for k in ks}
    out["median_rank"] = float(np.median(ranks))
    return out


def retrieval_scores(model: EmbeddingModel, data: str | Path, split: str = "test", seed: int = 0) -> dict:
    """One caption per motion (seeded); cosine similarity; the full split and batches of 32."""
    corpus = load_corpus(data, split)
    rng = np.random.default_rng(seed)
    captions = [it.texts[int(rng.integers(len(it.texts)))].text for it in corpus.items]
    motion = F.normalize(model.embed_motions([it.features for it in corpus.items]), dim=-1)
    text = F.normalize(torch.cat([model.embed_texts(captions[i : i + 256]) for i in range(0, len(captions), 256)]),
                       dim=-1)
    sim = (text @ motion.T).numpy()
    order = rng.permutation(len(sim))
    batches = [order[i : i + 32] for i in range(0, len(order) - 31, 32)]
    batch32 = {k: float(np.mean([_recalls(sim[np.ix_(b, b)])[k] for b in batches])) for k in ("R@1", "R@2", "R@3")}
    return {"text_to_motion": _recalls(sim), "motion_to_text": _recalls(sim.T), "text_to_motion_batch32": batch32,
            "motions": len(sim)}


def mirror_separation(model: EmbeddingModel, data: str | Path, split: str = "test") -> dict:
    """For captions naming a side or a turning direction: how often cos(motion, caption) beats
    cos(motion, mirrored caption) (left<->right, clockwise<->counter-clockwise)."""
    corpus = load_corpus(data, split)
    pairs = [(i, c.text, mirror_caption(c.text)) for i, it in enumerate(corpus.items) for c in it.texts
             if mirror_caption(c.text) != c.text]
    if not pairs:
        return {"pairs": 0, "accuracy": float("nan")}
    motion = F.normalize(model.embed_motions([corpus.items[i].features for i, _, _ in pairs]), dim=-1)
    own = F.normalize(model.embed_texts([c for _, c, _ in pairs]), dim=-1)
    mirrored = F.normalize(model.embed_texts([m for _, _, m in pairs]), dim=-1)
    wins = ((motion * own).sum(-1) > (motion * mirrored).sum(-1)).float()
    return {"pairs": len(pairs), "accuracy": float(wins.mean())}
