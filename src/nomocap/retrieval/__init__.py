"""Text-motion embedding models: the TMR-style retrieval model (the reward) and the T2M evaluator."""
