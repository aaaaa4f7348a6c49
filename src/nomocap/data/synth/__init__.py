"""The embedded default corpus: procedural, deterministic motions with captions, in the HumanML3D layout.

``body`` poses a t2m skeleton by forward kinematics and plants it on the ground, ``actions`` is the
library of action clips, ``captions`` their wording per domain, ``generate`` samples and writes a
corpus, ``judge`` checks a motion against a caption from kinematics alone.
"""
