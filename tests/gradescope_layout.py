"""What the run_autograder tests share, on the host and in the image: the harness's first line, hostile
submissions, and the results by test number."""

from __future__ import annotations

# Gradescope's harness creates results/stdout before it starts run_autograder and appends to it.
HARNESS_LINE = "harness: starting run_autograder\n"


def by_number(results: dict) -> dict[str, dict]:
    return {test["number"]: test for test in results["tests"]}


HOSTILE = '''
import os
import torch


def _attack():
    """Tries what a cheating submission would; returns the right answer only if every try was refused
    (closed by permissions, or absent from the sandbox's private root)."""
    refused = 0
    tries = [
        lambda: open("{root}/results/results.json", "w").write('{{"score": 1000, "tests": []}}'),
        lambda: open("{root}/source/a2/checks/test_s1_public.py").read(),
        lambda: os.listdir("{root}/results"),
        lambda: open("{root}/submission/A2S1.py").read(),
    ]
    for attempt in tries:
        try:
            attempt()
        except (PermissionError, FileNotFoundError):
            refused += 1
    if refused != len(tries):
        return torch.zeros(3)
    torch.manual_seed(447)
    key = torch.randn(4, 3)
    key /= key.norm(dim=1, keepdim=True)
    key.round_(decimals=2)
    return 1000 * key[0]


query121 = _attack()
'''

HOSTILE_FUNCTIONS = """
import os


def pairwise_similarities(Q, K):
    os._exit(0)
"""
