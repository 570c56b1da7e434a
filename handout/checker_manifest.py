"""What ships to students inside check.py: every file by name, nothing computed.

The students' checker carries the public part of the grader. Which part that is is decided here, in a
list a reviewer reads, not found by following strings: a change to what students receive is a change
to this file. `tests/test_student_checker_bundle.py` holds the list to account both ways: it must be
exactly what the public checks need (their static imports, the sandbox's programs and the drivers they
call), and it must hold no hidden check, no module in WITHHELD and no solution.

When a public check starts importing a new module, that test fails and names the file to add here.
"""

from __future__ import annotations

# The public checks, their pytest settings, and everything the checker, the grading run, the sandbox and
# those checks import; plus the files they read (the table, its course overlays, the results schema).
SHIPPED_FILES = (
    "a2/__init__.py",
    "a2/assets/__init__.py",
    "a2/assets/offline.py",
    "a2/assets/sentences.py",
    "a2/assignment.toml",
    "a2/checks/test_s1_public.py",
    "a2/checks/test_s2_device.py",
    "a2/checks/test_s2_public.py",
    "a2/checks/test_s3_public.py",
    "a2/courses/447.toml",
    "a2/courses/517.toml",
    "a2/records.py",
    "a2/sections/__init__.py",
    "a2/sections/s1/__init__.py",
    "a2/sections/s1/feedback.py",
    "a2/sections/s1/oracle.py",
    "a2/sections/s2/__init__.py",
    "a2/sections/s2/allowlist.py",
    "a2/sections/s2/closeness.py",
    "a2/sections/s2/drivers/__init__.py",
    "a2/sections/s2/drivers/device_probe.py",
    "a2/sections/s2/judging.py",
    "a2/sections/s2/mha.py",
    "a2/sections/s3/__init__.py",
    "a2/sections/s3/batches.py",
    "a2/sections/s3/drivers/__init__.py",
    "a2/sections/s3/drivers/probes.py",
    "a2/sections/s3/feedback.py",
    "a2/sections/s3/resources.py",
    "grader/__init__.py",
    "grader/answer_rules.py",
    "grader/assignment_home.py",
    "grader/checks_pytest.ini",
    "grader/comparison.py",
    "grader/declarations.py",
    "grader/errors.py",
    "grader/grading_run.py",
    "grader/import_closure.py",
    "grader/intake/__init__.py",
    "grader/intake/cell_magics.py",
    "grader/intake/discover.py",
    "grader/intake/headings.py",
    "grader/intake/limits.py",
    "grader/intake/normalise.py",
    "grader/intake/private_copy.py",
    "grader/intake/sections.py",
    "grader/intake/slicer.py",
    "grader/intake/tolerant.py",
    "grader/integrity.py",
    "grader/packaged_course.py",
    "grader/plugin.py",
    "grader/reach_rules.py",
    "grader/reference_rerun.py",
    "grader/replies.py",
    "grader/results.py",
    "grader/run_seeds.py",
    "grader/sandbox/__init__.py",
    "grader/sandbox/child.py",
    "grader/sandbox/child_access.py",
    "grader/sandbox/cleanup.py",
    "grader/sandbox/fork_server.py",
    "grader/sandbox/identity.py",
    "grader/sandbox/launch.py",
    "grader/sandbox/library_versions.py",
    "grader/sandbox/namespace.py",
    "grader/sandbox/notebook_habits.py",
    "grader/sandbox/op_recorder.py",
    "grader/sandbox/process.py",
    "grader/sandbox/protocol.py",
    "grader/sandbox/seccomp.py",
    "grader/sandbox/staging.py",
    "grader/sandbox/wire.py",
    "grader/sanitise.py",
    "grader/schemas/gradescope-results.schema.json",
    "grader/score_table.py",
    "grader/section_resources.py",
    "grader/session.py",
    "grader/student_check/__init__.py",
    "grader/student_check/check.py",
    "grader/student_section.py",
    "grader/table.py",
)

# Where the checker starts: its own logic, the grading run and score table, the sandbox's template
# (which confines each student process and serves it with the child runtime).
ENTRY_MODULES = (
    "grader.student_check.check",
    "grader.grading_run",
    "grader.score_table",
    "grader.sandbox.fork_server",
)

# Drivers the public checks hand to the sandbox by name (`section.run("MODULE:function")`).
PUBLIC_DRIVERS = ("a2.sections.s2.drivers.device_probe", "a2.sections.s3.drivers.probes")

# Modules that shipped code imports where they exist and does without where they do not, each with
# the reason it stays with the course staff.
WITHHELD = {
    "a2.sections.s2.known_bugs": "rebuilds every known §2.1 bug from working helpers",
}
