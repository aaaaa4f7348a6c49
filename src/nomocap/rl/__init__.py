"""Post-training on LoRA adapters from prompts only: DDPO (importance sampling + PPO clip) and, to compare
with it, reward-ranked fine-tuning (RAFT). ``method_config`` picks either by name, from a preset."""

from __future__ import annotations

METHODS = ("ddpo", "raft")


def method_config(method: str, preset: str, arch: str | None = None, /, **overrides):
    """The ``DDPOConfig`` or ``RAFTConfig`` of a preset (its ``[finetune]`` or ``[raft]`` table, with the
    ``[finetune_ARCH]`` / ``[raft_ARCH]`` table for the base's architecture over it) plus overrides."""
    if "arch" in overrides:  # e.g. --set arch=mld
        raise ValueError("'arch' is not a fine-tuning setting: it comes from the base model (experiments: --arch)")
    if method == "ddpo":
        from nomocap.rl.ddpo import DDPOConfig

        return DDPOConfig.from_preset(preset, arch, **overrides)
    if method == "raft":
        from nomocap.rl.raft import RAFTConfig

        return RAFTConfig.from_preset(preset, arch, **overrides)
    raise ValueError(f"unknown fine-tuning method {method!r}: choose {' or '.join(METHODS)}")


def trainer_class(cfg) -> type:
    """``DDPOTrainer`` or ``RAFTTrainer``, whichever trains ``cfg``; both take the same arguments."""
    from nomocap.rl.ddpo import DDPOTrainer
    from nomocap.rl.raft import RAFTTrainer

    return {"ddpo": DDPOTrainer, "raft": RAFTTrainer}[cfg.method]
