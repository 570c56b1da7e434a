"""Hostile §1: a correct notebook that also tries to read the grader's secrets while it loads.

TARGETS is filled in by tests/test_containment.py with this installation's secrets: the hidden
checks, the repository's .git and dist/, the held-out data and its seed, the run's own log and
results, Gradescope's submission_metadata.json. Whatever it can read or list fails 1.2.1 with the
leak in the message, so 1.2.1 passing means nothing leaked.
"""

import os

import torch

torch.manual_seed(447)
key = torch.randn(4, 3)
key /= torch.norm(key, dim=1, keepdim=True)
key.round_(decimals=2)
value = torch.randn(4, 3)
value /= torch.norm(value, dim=1, keepdim=True)
value.round_(decimals=2)

query121 = 100 * key[0]
query122 = 100 * key
query131 = torch.zeros(3)
query132 = 10 * (key[0] + key[1])
key141 = key.clone()
key141[2] = (key[0] + key[1]) / 2
key142 = key.clone()
key142[2] = query132 / query132.norm()

TARGETS = []  # the test writes the paths here


def probe(answer):
    leaked = []
    for target in TARGETS:
        try:
            if os.path.isdir(target):
                leaked.append(f"{target}: {sorted(os.listdir(target))[:3]}")
            else:
                with open(target, "rb") as handle:
                    leaked.append(f"{target}: {handle.read(60)!r}")
        except OSError:
            pass
    if leaked:
        raise RuntimeError("leaked " + "; ".join(leaked))
    return answer


query121 = probe(query121)
