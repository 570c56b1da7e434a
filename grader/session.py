"""A grading run's view of one submission: its files, and one sandboxed section per notebook.

`GradingSession` finds the submission's notebooks, reads and slices each (grader/intake/), and opens
a `StudentSection` (grader/student_section.py) for each on first use. A section whose file is missing
or cannot be parsed fails every test that needs it with the same reason. Each section runs as its own
sandbox uid and sees only the staged copy of our code (grader/sandbox/staging.py); what confinement
each child got is logged and kept in `confinement`.
"""

from __future__ import annotations

import importlib
import json
import logging
import secrets
import traceback
from collections.abc import Iterable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch

from grader.assignment_home import CHECKS_DIR
from grader.declarations import declared
from grader.errors import (
    NO_FILE,
    SectionUnavailable,
    StaffSetupFailure,
)
from grader.intake.discover import Found, discover, names_notebook
from grader.intake.limits import IntakeClock, IntakeError
from grader.intake.private_copy import PrivateCopy, RefusedFile, copy_submission
from grader.intake.sections import read_section
from grader.integrity import (
    IntegrityLog,
)
from grader.reach_rules import (
    Allowlist,
)
from grader.run_seeds import RunSeeds
from grader.sandbox.child_access import ChildAccess
from grader.sandbox.fork_server import ForkServer
from grader.sandbox.library_versions import removed_api_notes
from grader.sandbox.namespace import model_mount
from grader.sandbox.process import (
    ChildView,
    SandboxLimits,
    StudentProcess,
    template_for,
)
from grader.sandbox.protocol import (
    STAND_INS_VARIABLE,
    STUDENTS_LIBRARIES_VARIABLE,
)
from grader.sandbox.staging import Stage
from grader.sanitise import quoted
from grader.section_resources import declared_resources, section_resources
from grader.student_section import ANSWER_REPLY_BYTES, StudentSection
from grader.table import AssignmentTable, Profile

log = logging.getLogger("grader")


class GradingSession:
    """Everything one grading run knows about the submission, shared by all checks."""

    def __init__(
        self,
        submission_dir: Path,
        table: AssignmentTable,
        profile: Profile,
        sandbox_user: str = "auto",
        protect: tuple[Path, ...] = (CHECKS_DIR,),
        seed: int | None = None,
    ) -> None:
        self.uploaded_dir = submission_dir
        self.submission_dir = submission_dir
        self.copy: PrivateCopy | None = None
        self.refused: dict[int, list[RefusedFile]] = {}
        self.table = table
        self.profile = profile
        self.sandbox_user = sandbox_user
        self.protect = protect
        self.current_test: str | None = None
        #: The secret of this run: hidden tests draw their inputs from it; --seed replays a run.
        self.secret = secrets.randbits(63) if seed is None else seed
        self.seeds = RunSeeds(self.secret)
        self.integrity = IntegrityLog()
        self.files: dict[int, Found] = {}
        #: What the student is told once per section about its file (left-out cells, the wrong notebook).
        self.notes: dict[int, tuple[str, ...]] = {}
        self._sections: dict[int, StudentSection | SectionUnavailable] = {}
        self._template: ForkServer | None = None
        self._stand_ins: dict[int, dict[str, str]] = {}
        self.stage: Stage | None = None
        self.confinement: dict[str, dict[str, Any]] = {}
        self.limits = SandboxLimits(
            cpu_seconds=table.sandbox.cpu_seconds,
            memory_bytes=int(table.sandbox.memory_gb * (1 << 30)) if profile.device == "cpu" else 0,
            output_kept_bytes=table.sandbox.output_kept_bytes,
            max_reply_bytes=table.sandbox.max_reply_mb << 20,
            file_bytes=table.sandbox.file_size_mb << 20,
        )
        self.access = ChildAccess(sandbox_user, self.limits)

    def start(self, sections: Iterable[int] | None = None) -> None:
        """Copy the submission privately, read it (the intake step: the files of `sections`, all by
        default), and hide the grader's secrets from the sandbox user. From here on only the private
        copy is read.

        The intake (finding the files, reading, parsing and slicing each, reviewing what each answer
        reaches) is one step, under the table's ``[sandbox] intake_timeout`` shared between the files
        it reads (grader/intake/limits.py), done before any test's time limit starts.
        """
        max_file_bytes = int(self.table.sandbox.max_file_mb * (1 << 20))
        self.copy = copy_submission(self.uploaded_dir, max_file_bytes)
        self.submission_dir = self.copy.root
        for refused in self.copy.refused:
            log.info("not read: %s", refused.message())
        clock = IntakeClock(self.table.sandbox.intake_timeout)
        graded = sorted(self.table.sections if sections is None else sections)
        clock.expect(len(graded))
        stems = [section.file for section in self.table.sections.values()]
        found = discover(self.submission_dir, stems, self.table.answers_by_file(), clock)
        for number, section in self.table.sections.items():
            self.refused[number] = [r for r in self.copy.refused if names_notebook(r.path, section.file)]
        self.files = {number: found[section.file] for number, section in self.table.sections.items()}
        log.info(
            "grading seed %d (never shown to students; --seed %d replays this run)", self.secret, self.secret
        )
        for number, entry in self.files.items():
            if entry.path is None:
                log.info("section %s: no file found", number)
            else:
                log.info(
                    "section %s: grading %s %s",
                    number,
                    entry.path.relative_to(self.submission_dir),
                    entry.why,
                )
                for other in entry.passed_over:
                    log.info("section %s: passed over %s", number, other.relative_to(self.submission_dir))
        self.access.protect(self.protect)
        for number in graded:
            self._sections[number] = self._open(number, clock)
        self.stage = Stage(drivers=[spec.drivers for spec in self.table.sections.values() if spec.drivers])

    def child_view(self) -> ChildView:
        """What every child may read (grader/sandbox/child_access.py)."""
        assert self.stage is not None, "start() stages the code"
        return self.access.view(self.stage, self._model_folder)

    def _model_folder(self) -> Path | None:
        """The model folder of the first section whose resources have one, mounted for the child."""
        for number, resources in declared_resources(self.table).items():
            try:
                return model_mount(resources.model_folder(self.profile))
            except (StaffSetupFailure, OSError) as error:
                log.info("the child gets no model folder of section %s: %s", number, error)
        return None

    def driver_reply_bytes(self) -> int:
        """The largest reply a driver may send (grader/sandbox/child_access.py)."""
        return self.access.driver_reply_bytes(self.child_view(), ANSWER_REPLY_BYTES)

    def cuda_available(self) -> bool:
        """Whether checks may run student code on CUDA: the profile's device is cuda and a GPU is seen."""
        return self.profile.device == "cuda" and torch.cuda.is_available()

    def spawn(self, section: int) -> StudentProcess:
        # On a CPU profile the student's process sees no GPU, so `device = "cuda" if available` in
        # their code agrees with where the grader's own tensors are.
        hide_gpus = {"CUDA_VISIBLE_DEVICES": ""} if self.profile.device == "cpu" else {}
        identity = self.access.identity(section)
        course_libraries = {STUDENTS_LIBRARIES_VARIABLE: self.table.assignment.students_transformers}
        environment = hide_gpus | course_libraries | self.stand_ins(section)
        if self._template is None:
            self._template = template_for(self.child_view(), self._preloaded())
        process = StudentProcess(identity, self.limits, self.child_view(), self._template, environment)
        # The log keeps the launcher's words; results.json a form that is the same on every run.
        log.info("section %s: confinement %s", section, json.dumps(process.confinement, sort_keys=True))
        stable = {key: value for key, value in process.confinement.items() if key not in ("uid", "gid")}
        stable["user"] = identity.describe()
        self.confinement[f"section {section}"] = stable
        return process

    def stand_ins(self, section: int) -> dict[str, str]:
        """For a section whose notebook loads the model and data itself (the table's `stand_ins`),
        the environment that leads its loading cells to the profile's own; empty otherwise, or when
        the profile's resources are missing (the checks that need them say so)."""
        spec = self.table.sections[section]
        resources = section_resources(spec)
        if not spec.stand_ins or resources is None:
            return {}
        if section not in self._stand_ins:
            assert self.stage is not None, "start() stages the code"
            try:
                self._stand_ins[section] = resources.stand_ins(
                    self.profile, self.stage.add_folder, STAND_INS_VARIABLE
                )
            except StaffSetupFailure as missing:
                log.info("section %s gets no stand-ins: %s", section, missing)
                self._stand_ins[section] = {}
        return self._stand_ins[section]

    def _preloaded(self) -> tuple[str, ...]:
        """The heavy modules the student processes of the sections found in this submission import
        (each section's drivers package names them): the template imports them ahead."""
        names: list[str] = []
        for number, entry in self.files.items():
            drivers = self.table.sections[number].drivers
            if entry.path is not None and drivers:
                names += getattr(importlib.import_module(drivers), "PRELOADED", ())
        return tuple(dict.fromkeys(names))

    def seed_for_test(self) -> int:
        """The seed of the student's process for a call of the current test (grader/run_seeds.py)."""
        return self.seeds.student_process(self.current_test, self.current_visibility())

    def hidden_seed(self, purpose: str = "") -> int:
        """A seed for the current hidden test's `purpose` that only this run's secret determines."""
        return self.seeds.hidden(self.current_test, purpose)

    def current_visibility(self) -> str:
        """ "public" or "hidden": the current test's, which picks the student process that serves it."""
        if self.current_test is None:
            return "public"
        return self.table.test(self.current_test).visibility

    def section(self, number: int) -> StudentSection:
        """The section's handle; raises SectionUnavailable with the reason if it cannot be graded."""
        if number not in self._sections:
            self._sections[number] = self._open(number)
        entry = self._sections[number]
        if isinstance(entry, SectionUnavailable):
            raise entry
        return entry

    def _open(self, number: int, clock: IntakeClock | None = None) -> StudentSection | SectionUnavailable:
        section = self.table.sections[number]
        found = self.files.get(number)
        if (found is None or found.path is None) and self.refused.get(number):
            reasons = "; ".join(refused.message() for refused in self.refused[number])
            return SectionUnavailable(
                f"{reasons}, so {section.file} could not be graded. Upload {section.file}.py (or "
                f"{section.file}.ipynb) as an ordinary file."
            )
        if found is None or found.path is None:
            return SectionUnavailable(
                f"{section.file}.py was not found in your submission, so its tests could not run. "
                f"Upload the notebook downloaded as {section.file}.py (or {section.file}.ipynb).",
                NO_FILE,
            )
        try:
            with clock.reading(found.path.name) if clock else nullcontext():
                return self._read(number, found.path)
        except IntakeError as error:
            # The whole reason once, at the top of the report; each test names it in one line.
            self.notes[number] = (str(error),)
            return SectionUnavailable(f"{error.headline} (the reason is at the top of this report).")
        except Exception as error:  # noqa: BLE001 - the reference notebooks read cleanly: the file is at fault
            log.error("reading %s failed:\n%s", found.path.name, traceback.format_exc())
            self.notes[number] = (
                f"{found.path.name} could not be read: it holds something the grader's reader cannot handle "
                f"({type(error).__name__}), so its tests could not run. Download the notebook again from "
                "Colab or Jupyter.",
            )
            return SectionUnavailable(
                f"{found.path.name} could not be read (the reason is at the top of this report)."
            )

    def _read(self, number: int, path: Path) -> StudentSection:
        """Read, slice and review the section's file; IntakeError when it cannot be graded."""
        section = self.table.sections[number]
        others = {file: names for file, names in self.table.answers_by_file().items() if file != section.file}
        answers = self.table.answers(number)
        parts = (number, section.last_graded_part)
        source = read_section(
            path, section.file, answers, parts, others, section.checked_by, legacy=section.legacy
        )
        sliced = source.sliced
        old_apis = removed_api_notes(sliced.statements, self.table.assignment.students_transformers)
        self.notes[number] = (*source.notes, *old_apis)
        log.info(
            "section %s: kept %d statements, dropped %d top-level statements (lines %s)",
            number,
            len(sliced.units),
            len(sliced.dropped_lines),
            ", ".join(map(str, sliced.dropped_lines[:40])) + (" …" if len(sliced.dropped_lines) > 40 else ""),
        )
        if sliced.renamed_legacy:
            log.info("section %s: %s read as %s", number, section.old_name, "/".join(section.old_name_means))
        allowlist = (
            declared(section.allowlist, Allowlist, f"sections.{number}.allowlist")
            if section.allowlist
            else None
        )
        student = StudentSection(
            self, number, source.normalised, sliced, source.unreadable_answers, allowlist
        )
        for name in answers:
            student.rules.problem(name)
        return student

    def log_output(self, section: StudentSection, process: StudentProcess) -> None:
        """What the student's process printed, each line quoted (grader.sanitise.quoted), so that no
        line of it can pass for one of the grader's own in the log."""
        text = process.output.text().strip()
        if text:
            log.info("output of the %s process, quoted:\n%s", section.filename, quoted(text))

    def close(self) -> None:
        for entry in self._sections.values():
            if isinstance(entry, StudentSection):
                entry.close()
        if self._template is not None:
            self._template.remove()
        self.access.release()
        if self.stage is not None:
            self.stage.remove()
        if self.copy is not None:
            self.copy.remove()
