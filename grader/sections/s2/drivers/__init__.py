"""§2.1's drivers: the small GPT's training (2.1.14) and the `meta`-device run (2.1.15), in the
student's process. What a driver may do is said in ``grader.sections``."""
