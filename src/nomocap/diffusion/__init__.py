"""Diffusion math: noise schedules, samplers with log-probabilities, classifier-free guidance.

Pure functions of tensors (the diffusers discipline): nothing here knows which network it drives.
"""
