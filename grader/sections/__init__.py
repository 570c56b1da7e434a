"""Everything one notebook section's checks need, one package per section.

Each package holds what its checks in ``grader/checks/test_sN_*.py`` call: the grader's own oracle
(what a correct answer gives), the feedback that turns a wrong answer into words, the known bugs it
can name, and, in ``drivers/``, the code that runs beside the student's in the sandbox. Values from
the student are read and compared through ``grader.comparison``, the same for every section.

What ships to students in their checker is listed in ``handout/checker_manifest.py``, not decided
here: an oracle or known-bug module that would hand out working answers stays with the staff.
"""
