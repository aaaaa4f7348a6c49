"""What the RL trainer needs from several processes (``accelerate``); one process needs none of it.

Rollouts are split across ranks, rewards are gathered so that every rank computes the same per-prompt
advantages, and forwards in the train phase go through the module ``accelerator.prepare`` returned.
Gradients are averaged once per optimiser step with one explicit all-reduce of the LoRA gradients
(DDP's automatic reduction runs under ``no_sync``): each rank re-scores a different number of
denoising steps per batch, and DDP's per-backward reduction would then wait for a partner that never
comes. Launch with ``torchrun --nproc_per_node N -m nomocap finetune ...`` or ``accelerate launch
--multi_gpu --num_processes N -m nomocap finetune ...`` (CPU: gloo; GPU: nccl).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch
from torch import nn


def launched_world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


class Distributed:
    """Rank bookkeeping and the three collectives the trainer uses; trivial for a single process."""

    def __init__(self, accelerator=None):
        self.accelerator = accelerator
        self.rank = accelerator.process_index if accelerator else 0
        self.world = accelerator.num_processes if accelerator else 1
        self.device = accelerator.device if accelerator else torch.device("cpu")
        self._prepared: list = []

    @classmethod
    def from_env(cls) -> Distributed:
        """Several processes when a launcher (torchrun, accelerate launch) set ``WORLD_SIZE > 1``."""
        if launched_world_size() <= 1:
            return cls()
        from accelerate import Accelerator

        return cls(Accelerator(cpu=not torch.cuda.is_available()))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def prepare(self, model: nn.Module) -> nn.Module:
        if self.accelerator is None:
            return model
        prepared = self.accelerator.prepare(model)
        self._prepared.append(prepared)
        return prepared

    @contextlib.contextmanager
    def no_sync(self, model: nn.Module) -> Iterator[None]:
        with model.no_sync() if hasattr(model, "no_sync") else contextlib.nullcontext():
            yield

    def gather(self, values: torch.Tensor) -> torch.Tensor:
        """Every rank's ``values`` (the same shape on each) concatenated in rank order."""
        if self.accelerator is None:
            return values
        return self.accelerator.gather(values.to(self.device)).cpu()

    def mean_grads(self, params: list[nn.Parameter]) -> None:
        if self.world == 1:
            return
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            torch.distributed.all_reduce(p.grad, op=torch.distributed.ReduceOp.SUM)
            p.grad /= self.world

    def all_true(self, flag: bool) -> bool:
        if self.world == 1:
            return flag
        t = torch.tensor([0.0 if flag else 1.0], device=self.device)
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.SUM)
        return bool(t.item() == 0)

    def check_in_sync(self, params: list[nn.Parameter]) -> None:
        """Raise if the ranks' adapters differ (gradients that were never averaged show up here first)."""
        if self.world == 1:
            return
        with torch.no_grad():
            checksum = torch.stack([p.double().sum() for p in params]).sum().reshape(1).to(self.device)
        sums = self.gather(checksum)
        if not torch.allclose(sums, sums[0].expand_as(sums), rtol=1e-6, atol=1e-9):
            raise RuntimeError(f"the processes' adapters diverged (checksums {sums.tolist()}): gradients not in sync")

    def barrier(self) -> None:
        if self.accelerator is not None:
            self.accelerator.wait_for_everyone()

    def close(self) -> None:
        """Drop the wrapped modules, wait for everyone, then tear the group down (gloo aborts at exit otherwise)."""
        if self.accelerator is None:
            return
        self._prepared.clear()
        self.accelerator.free_memory()
        self.barrier()
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
