"""Who the student's processes run as, and what they may read: the run's access policy.

As root, every section runs as a uid of its own (grader/sandbox/identity.py), the grader's Python must
be reachable by it, the paths the run protects (the hidden checks) are made readable by root only, and
the world-writable folders it could leave things in are noted to be swept after each child. What a
child may read is one `ChildView` for the run: the staged code, the interpreter and, when a section
declares one, the model folder; the rest of the repository is closed to others (the fallback where no
mount namespace can be made). Without root the child runs as the caller and none of this can be
enforced: only the staged code is set.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from grader.sandbox.cleanup import world_writable_folders
from grader.sandbox.identity import Identity, IdentityError, choose_identity, unreachable_folders
from grader.sandbox.process import ChildView, SandboxLimits
from grader.sandbox.staging import REPO_ROOT, Stage, hide_except, interpreter_paths

log = logging.getLogger("grader")
#: The files of a model folder that hold its weights: what a driver's reply (trained weights) is sized by.
WEIGHT_FILES = ("*.safetensors", "*.bin")


def driver_reply_bound(model: Path | None, answer_bytes: int, table_bytes: int) -> int:
    """The largest reply a driver may send: trained weights, so bounded by the model's weight files
    (with room for a wider dtype) on top of an answer's allowance, and by the table's bound."""
    weights = sum(
        path.stat().st_size
        for pattern in WEIGHT_FILES
        for path in (model.rglob(pattern) if model is not None else ())
        if path.is_file()
    )
    return min(answer_bytes + 2 * weights if weights else table_bytes, table_bytes)


class ChildAccess:
    """One run's identities and view, made on first use and released by `release`."""

    def __init__(self, sandbox_user: str, limits: SandboxLimits) -> None:
        self.sandbox_user = sandbox_user
        self.limits = limits
        self._identities: dict[int, Identity] = {}
        self._view: ChildView | None = None
        self._driver_reply: int | None = None

    def protect(self, paths: Iterable[Path]) -> None:
        """As root: check that the sandbox user reaches the grader's Python, make `paths` readable by
        root only, and note the world-writable folders to sweep. Raises IdentityError when the Python
        cannot be reached. Without root, nothing."""
        if os.geteuid() != 0:
            return
        blocked = unreachable_folders([Path(sys.executable).resolve().parent, Path(sys.prefix)])
        if blocked:
            raise IdentityError(
                "the sandbox user cannot reach the grader's Python or code; make these folders "
                f"traversable by others (chmod o+x), or install elsewhere: {', '.join(map(str, blocked))}"
            )
        for path in paths:
            if path.exists():
                os.chmod(path, 0o700 if path.is_dir() else 0o600)
        world_writable_folders()

    def identity(self, section: int) -> Identity:
        """The section's own sandbox identity (a dedicated uid per section when root)."""
        if section not in self._identities:
            identity = choose_identity(self.sandbox_user)
            self._identities[section] = identity
            log.info(
                "section %s: sandbox identity uid %s%s",
                section,
                identity.uid,
                "" if identity.drops_privileges else " (not root: no privilege drop)",
            )
        return self._identities[section]

    def view(self, stage: Stage, model_folder: Callable[[], Path | None]) -> ChildView:
        """What every child may read: the staged code, the interpreter, and (as root) the folder
        `model_folder` gives, with the rest of the repository closed to others."""
        if self._view is None:
            view = ChildView(stage.code, interpreter_paths())
            if os.geteuid() == 0:
                view.model = model_folder()
                for path in hide_except(REPO_ROOT, [path for _, path in view.labelled()]):
                    log.debug("closed to the sandbox user: %s", path)
            log.info("the child may read: %s", ", ".join(f"{what} {path}" for what, path in view.labelled()))
            self._view = view
        return self._view

    def driver_reply_bytes(self, view: ChildView, answer_bytes: int) -> int:
        """The largest reply a driver may send, for `view`'s model (``driver_reply_bound``); measured
        once a run."""
        if self._driver_reply is None:
            self._driver_reply = driver_reply_bound(view.model, answer_bytes, self.limits.max_reply_bytes)
        return self._driver_reply

    def release(self) -> None:
        """Give back the run's identities."""
        for identity in self._identities.values():
            identity.release()
