"""RL post-training (DDPO with importance sampling and the PPO clip) on LoRA adapters, from prompts only."""
