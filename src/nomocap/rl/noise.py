"""Correlated rollouts: antithetic noise on the trained steps, common random numbers everywhere else.

DDPO compares a prompt's copies with each other (per-prompt advantages). With independent copies, most
of the reward spread inside a group comes from noise the update cannot credit: the starting latent and
the steps that are not trained (``first_steps``). Here the copies of one prompt share that noise, and
on the trained steps they come in antithetic pairs (``e``, ``-e``). Every copy is still an exact sample
of the policy (``e`` and ``-e`` are both standard normal), so rollouts, stored log-probs and re-scoring
are unchanged; what changes is that the reward differences within a group are made by the trained
steps alone, and each pair is a finite difference along its noise direction.

The group mean stays an unbiased baseline when one step is trained (the Gaussian score is odd in
``e``); with several trained steps it is unbiased up to how much a later step's mean depends on the
earlier noise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch


def grouped_noise(n: int, group: int, trained_steps: Iterable[int],
                  generator: torch.Generator | None = None) -> Callable[[int, torch.Size], torch.Tensor]:
    """``noise(index, shape)`` for ``n`` rollouts laid out as consecutive groups of ``group`` copies.

    ``index`` -1 is the starting latent. On ``trained_steps`` the copies of a group are ``e1, -e1, e2, -e2,
    ...`` (an odd last copy is unpaired); on every other index they share one draw.
    """
    if n % group:
        raise ValueError(f"{n} rollouts do not split into groups of {group} copies")
    trained, groups = set(trained_steps), n // group

    def noise(index: int, shape: torch.Size) -> torch.Tensor:
        if shape[0] != n:
            raise ValueError(f"noise for {shape[0]} rollouts asked of a source made for {n}")
        rest = tuple(shape[1:])
        if index in trained:
            half = torch.randn((groups, (group + 1) // 2, *rest), generator=generator)
            return torch.stack([half, -half], 2).flatten(1, 2)[:, :group].reshape(n, *rest)
        return torch.randn((groups, *rest), generator=generator).repeat_interleave(group, 0)

    return noise
