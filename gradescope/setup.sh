#!/usr/bin/env bash
# Builds the grading image. Gradescope runs this once, as root, with the zip unpacked in
# /autograder/source and the network on; gradescope/Dockerfile runs the very same script, so an
# image built on a course's own GPU host matches the one Gradescope builds.
#
# Every step must succeed: `set -e` stops the build at the first failure, and the model and data
# are reopened offline before the build declares success, so a build that "passed" can really grade.
set -euo pipefail

SOURCE_DIR=${AUTOGRADER_SOURCE:-/autograder/source}
# The grader's Python environment, the Hugging Face cache and the offline profile's assets live
# outside /autograder, owned by root; run_autograder expects them at these paths.
VENV_DIR=${A2_VENV:-/opt/a2grader/venv}
HF_CACHE_DIR=${A2_HF_HOME:-/opt/a2grader/hf-cache}
ASSETS_DIR=${A2_ASSETS_DIR:-/opt/a2grader/assets}
RUNTIME_LOCK="$SOURCE_DIR/requirements/runtime.lock"
# Which image this is: `make autograder` writes gradescope/build.env into the zip, a CPU image by
# default (what Gradescope runs: it has no GPU) and a GPU image with GPU=1. A variable set before
# this script runs (a Dockerfile build argument) wins over the file.
BUILD_SETTINGS="$SOURCE_DIR/gradescope/build.env"
if [ -f "$BUILD_SETTINGS" ]; then
  # shellcheck source=/dev/null
  . "$BUILD_SETTINGS"
fi
# `cpu` installs torch's CPU build from the runtime lock, checked by its hash like every package; a
# CUDA tag (cu130) installs that build from PyTorch's index by version (its wheel is not in the lock;
# the host driver must be at least as new as the CUDA it bundles). A2_TORCH_WHEELS, when set, names a
# folder holding the torch wheel to install from (an image built where that index is unreachable).
TORCH_CUDA=${A2_TORCH_CUDA:-cpu}
TORCH_WHEELS=${A2_TORCH_WHEELS:-}
TORCH_VERSION=$(sed -n 's/^torch==\([^ ]*\).*/\1/p' "$RUNTIME_LOCK")
# 1 fills the Hugging Face cache with the full profile's model and data (a GPU image grades on `full`);
# 0 leaves it empty: the image then grades on the offline profile only.
FETCH_MODELS=${A2_FETCH_MODELS:-0}
STUDENT_USER=student
# An empty PIP_CERT (the Dockerfile's default) would make pip look for a CA bundle named "".
if [ -z "${PIP_CERT:-}" ]; then
  unset PIP_CERT
fi

log() { printf '\n==> %s\n' "$*"; }

log "Installing Python 3.11 (Ubuntu 22.04 ships it in universe)"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends python3.11 python3.11-venv ca-certificates openssh-client
rm -rf /var/lib/apt/lists/*

log "Creating the grader's virtual environment in $VENV_DIR"
python3.11 -m venv "$VENV_DIR"

# torch comes first and on its own, so that the lock finds torch==$TORCH_VERSION already satisfied (a
# local version such as +$TORCH_CUDA matches the lock's plain pin) and never swaps in another build.
if [ -n "$TORCH_WHEELS" ]; then
  TORCH_SOURCE=(--no-index --find-links "$TORCH_WHEELS")
else
  TORCH_SOURCE=(--index-url "https://download.pytorch.org/whl/$TORCH_CUDA")
fi
if [ "$TORCH_CUDA" = cpu ]; then
  log "Installing torch==$TORCH_VERSION (CPU build) from requirements/runtime.lock, checked by its hash"
  TORCH_LOCK=$(mktemp)
  # The lock's torch entry: its pin line and the hash lines that continue it.
  awk '/^torch==/ {found = 1} found {print} found && !/\\$/ {exit}' "$RUNTIME_LOCK" > "$TORCH_LOCK"
  "$VENV_DIR/bin/pip" install --no-cache-dir --require-hashes --no-deps "${TORCH_SOURCE[@]}" -r "$TORCH_LOCK"
  rm -f "$TORCH_LOCK"
else
  log "Installing torch==$TORCH_VERSION ($TORCH_CUDA build) from PyTorch's index (by version: not in the lock)"
  "$VENV_DIR/bin/pip" install --no-cache-dir "${TORCH_SOURCE[@]}" "torch==$TORCH_VERSION"
fi

log "Installing the grading runtime from requirements/runtime.lock (every file checked by its hash)"
"$VENV_DIR/bin/pip" install --no-cache-dir --require-hashes --no-deps -r "$RUNTIME_LOCK"
"$VENV_DIR/bin/pip" check

mkdir -p "$HF_CACHE_DIR" "$ASSETS_DIR"
cd "$SOURCE_DIR"
if [ "$FETCH_MODELS" = 1 ]; then
  log "Filling the Hugging Face cache with the full profile's model and data"
  HF_HOME="$HF_CACHE_DIR" "$VENV_DIR/bin/python" -m grader prepare full

  log "Reopening them with Hugging Face's offline mode on, as grading will"
  HF_HOME="$HF_CACHE_DIR" HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    "$VENV_DIR/bin/python" -m grader preflight --profile full --no-gpu-check
else
  log "Leaving the Hugging Face cache empty (A2_FETCH_MODELS=$FETCH_MODELS): this image grades on the offline profile only"
fi

log "Building the offline profile's assets (used when a run has no GPU)"
# The held-out split is drawn from a secret seed made for this image (ASSETS_DIR/heldout-seed, root
# only), so that nobody can regenerate its labels from the public code.
A2_ASSETS_DIR="$ASSETS_DIR" "$VENV_DIR/bin/python" -m grader prepare offline

log "Creating the unprivileged user that student code runs as"
if ! id -u "$STUDENT_USER" >/dev/null 2>&1; then
  useradd --create-home --shell /usr/sbin/nologin "$STUDENT_USER"
fi

if [ -d "$SOURCE_DIR/forward" ]; then
  log "Installing the GPU forward's key and host, root-only (grader/cluster/forward.py)"
  install -d -m 700 -o root -g root /etc/a2grader/forward
  install -m 600 -o root -g root "$SOURCE_DIR"/forward/* /etc/a2grader/forward/
  rm -rf "$SOURCE_DIR/forward"
fi

log "Making the grader's files read-only to everyone but root"
# run_autograder makes the hidden checks, the data and the caches unreadable before each run.
chown -R root:root "$SOURCE_DIR" "$HF_CACHE_DIR" "$ASSETS_DIR"
chmod -R go-w "$SOURCE_DIR"
chmod -R go-rwx "$HF_CACHE_DIR" "$ASSETS_DIR"

log "Image ready"
