"""Everything one notebook section's checks need, one package per section.

Each package holds what its checks in ``a2/checks/test_sN_*.py`` call: the grader's own oracle
(what a correct answer gives), the feedback that turns a wrong answer into words, the known bugs it
can name, and, in ``drivers/``, the code that runs beside the student's in the sandbox. Values from
the student are read and compared through ``grader.comparison``, the same for every section.

Drivers are our code in the student's process. A check hands one to the sandbox by name
(``section.run("a2.sections.sN.drivers.MODULE:function")``). Every module of a ``drivers/``
folder, with what it imports, is staged read-only for the student's process
(``grader.sandbox.staging``); when the grader runs as root, that copy is all of the grader the
student's process can read. A driver's reply is the student's to forge, so the trusted side checks
it (``grader.replies``, ``grader.verdicts``) before it uses it.

What ships to students in their checker is listed in ``handout/checker_manifest.py``, not decided
here: an oracle or known-bug module that would hand out working answers stays with the staff.
"""
