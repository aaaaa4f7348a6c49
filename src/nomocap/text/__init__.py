"""Frozen text encoders (pluggable) with an on-disk embedding cache."""
