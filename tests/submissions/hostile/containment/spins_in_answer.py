"""Hostile (for tests/core_checks): `answer` never returns. It must cost one deadline in the whole run:
a later call fails at once with the same reason instead of spinning again."""

import torch

query121 = torch.ones(3)


def answer():
    while True:
        pass


def other():
    return "fine"
