"""Drivers: our code that runs in the student's process, beside their notebook, inside the sandbox.

A check hands one to the sandbox by name (``section.run("grader.sections.sN.drivers.MODULE:function")``).
Every module in a ``drivers/`` folder, with what it imports, is staged read-only for the student's
process (``grader.sandbox.staging``); nothing else of the grader is readable there. A driver's
reply is the student's to forge, so the trusted side checks it (``grader.replies``) before use.
"""
