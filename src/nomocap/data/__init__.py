"""Corpora: the HumanML3D / KIT-ML reader, the embedded synthetic corpus, categories and prompt sets."""
