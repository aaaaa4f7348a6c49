"""Motion representation: skeletons, rotations, HumanML3D features, renders and BVH export (no models)."""
