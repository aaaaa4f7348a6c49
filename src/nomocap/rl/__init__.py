"""Post-training on LoRA adapters from prompts only: DDPO (importance sampling + PPO clip) and, to compare
with it, reward-ranked fine-tuning (RAFT) and reward-gradient fine-tuning (DRaFT). ``method_config`` picks one
by name, from a preset."""

from __future__ import annotations

METHODS = ("ddpo", "raft", "draft")


def method_config(method: str, preset: str, arch: str | None = None, /, **overrides):
    """The method's config of a preset (its ``[finetune]``, ``[raft]`` or ``[draft]`` table, with the
    ``[TABLE_ARCH]`` table for the base's architecture over it) plus overrides."""
    if "arch" in overrides:  # e.g. --set arch=mld
        raise ValueError("'arch' is not a fine-tuning setting: it comes from the base model (experiments: --arch)")
    if method not in METHODS:
        raise ValueError(f"unknown fine-tuning method {method!r}: choose {', '.join(METHODS)}")
    if "guidance" in overrides:  # e.g. --set guidance=-1
        from nomocap.diffusion.guidance import check_guidance

        check_guidance(overrides["guidance"])
    return config_class(method).from_preset(preset, arch, **overrides)


def config_class(method: str) -> type:
    from nomocap.rl.ddpo import DDPOConfig
    from nomocap.rl.draft import DRaFTConfig
    from nomocap.rl.raft import RAFTConfig

    return {"ddpo": DDPOConfig, "raft": RAFTConfig, "draft": DRaFTConfig}[method]


def trainer_class(cfg) -> type:
    """The trainer of ``cfg``'s method; every trainer takes the same arguments."""
    from nomocap.rl.ddpo import DDPOTrainer
    from nomocap.rl.draft import DRaFTTrainer
    from nomocap.rl.raft import RAFTTrainer

    return {"ddpo": DDPOTrainer, "raft": RAFTTrainer, "draft": DRaFTTrainer}[cfg.method]
