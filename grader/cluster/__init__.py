"""Grading on a course's Slurm cluster: whole-class batches, and the live §3 forward from Gradescope."""
