"""Hostile (for tests/core_checks): `answer` returns 256 MB. Answers are small, so the grader refuses
the reply by its announced size without reading it, and the trusted process stays small."""

import torch

query121 = torch.ones(3)


def answer():
    return torch.zeros(256 << 20, dtype=torch.uint8)


def other():
    return "fine"
