#!/usr/bin/env bash
# Regenerates the three hashed locks under requirements/ from pyproject.toml's dependency groups
# (`make lock`): runtime (what grading and the Gradescope image need), handout (plus building the
# handout), dev (plus the tools `make test` runs). pip-compile resolves each group with a pinned
# pip-tools, for the interpreter `make setup` uses, and writes every distribution's sha256, so that
# `pip install --require-hashes` installs the same bytes everywhere.
#
# setuptools is pinned too (--allow-unsafe): torch requires a newer one than a fresh venv holds.
# The dev group is resolved first; runtime and handout are then resolved under its pins, so a package
# has one version in all three locks.
#
# torch: pip resolves the CPU build (2.13.0+cpu, from PyTorch's CPU index or a wheel folder that holds
# it), so the locks carry that wheel's hash, and the CPU image (what Gradescope runs) installs torch
# from the runtime lock like every other package (setup.sh). The pin is written torch==2.13.0, which a
# CUDA build (2.13.0+cu130) installed beforehand also satisfies: the GPU image installs that build from
# PyTorch's index by version first, then the lock.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
python=${PYTHON_BOOT:-$(command -v /usr/bin/python3.11 || command -v python3.11)}
PIP_TOOLS=pip-tools==7.6.2
PIP=pip==25.3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$python" -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install --quiet "$PIP" "$PIP_TOOLS"

# One requirements file per group, with the groups it includes expanded (PEP 735).
"$python" - "$tmp" <<'PY'
import sys
import tomllib
from pathlib import Path

groups = tomllib.loads(Path("pyproject.toml").read_text())["dependency-groups"]


def expand(name: str) -> list[str]:
    items = []
    for item in groups[name]:
        items += expand(item["include-group"]) if isinstance(item, dict) else [item]
    return items


for name in groups:
    Path(sys.argv[1], f"{name}.in").write_text("\n".join(expand(name)) + "\n")
PY

compile_group() {
  local group=$1
  shift
  (cd "$tmp" && CUSTOM_COMPILE_COMMAND="make lock" "$tmp/venv/bin/pip-compile" --quiet --generate-hashes --allow-unsafe \
    --strip-extras --no-emit-index-url --no-emit-find-links --no-emit-trusted-host --rebuild \
    --output-file "$repo/requirements/$group.lock" "$@" "$group.in")
  # The CPU build's local label would stop a CUDA build from satisfying the pin (see above).
  sed -i -E 's/^torch==([0-9.]+)\+cpu /torch==\1 /' "$repo/requirements/$group.lock"
}

mkdir -p requirements
compile_group dev
grep -E '^[A-Za-z0-9_.-]+==' requirements/dev.lock | sed -E 's/ .*//' > "$tmp/pins.txt"
compile_group handout --constraint pins.txt
compile_group runtime --constraint pins.txt
