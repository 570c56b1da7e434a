"""§2.1's drivers: the small GPT's training (2.1.14) and the `meta`-device run (2.1.15), in the
student's process. What a driver may do is said in ``a2.sections``."""

#: The heavy modules §2's student processes import: the operator recorder's first use (and the
#: `meta`-device run) makes torch import its dispatch-mode machinery, torch._dynamo, about a second.
#: The run's warm template imports it ahead while it waits (grader/sandbox/fork_server.py), when the
#: submission holds a §2 notebook.
PRELOADED = ("torch._dynamo",)
