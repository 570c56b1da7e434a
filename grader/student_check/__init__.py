"""The students' local checker: the public tests, run through the grader's own intake and sandbox.

`check.py` is the logic; `launcher.py` is the single file students receive (as
student_template/check.py), which carries a zipped copy of the public part of the grader
(handout/checker_bundle.py builds it) and unpacks it when run.
"""
