"""Gradescope packaging: the grading image's build script, its entry point and the upload zip."""
