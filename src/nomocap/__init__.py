"""nomocap: post-train text-to-motion diffusion models with RL from text prompts only."""

__version__ = "0.1.0"
