# A target for a task of the course staff runs that task's verb of `python -m grader` (`--help` lists
# them all). Every target that runs project code depends on `setup`, which builds .venv/ from requirements/dev.lock
# (the grading runtime, the handout builder and the tools, every file checked by its hash) on a fresh
# machine and does nothing when the lock has not changed since.
# The sandboxed student process runs as an unprivileged user, which must be able to execute the
# interpreter: prefer the system's Python 3.11 over one installed under a private home (pyenv in /root).
PYTHON_BOOT ?= $(shell test -x /usr/bin/python3.11 && echo /usr/bin/python3.11 || echo python3.11)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-from-lock
LOCK := requirements/dev.lock

.PHONY: setup test test-fast lint demo handout bench autograder release lock corpus clean

setup: $(STAMP)

$(STAMP): $(LOCK)
	@command -v $(PYTHON_BOOT) >/dev/null || { echo "Python 3.11 is required ($(PYTHON_BOOT) not found)"; exit 1; }
	test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-input --require-hashes --no-deps -r $(LOCK)
	touch $@

# ruff (with the complexity, noqa and blind-except gates of pyproject.toml) and mypy on grader/ and
# a2/ (the engine and the assignment, its checks included).
lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

# One torch thread: the models in the tests are tiny, and on two shared cores one thread is faster.
test: setup lint
	OMP_NUM_THREADS=1 $(PY) -m pytest --durations=20

# Everything but the tests marked slow (tests/conftest.py lists them): a quick check while working.
test-fast: setup
	OMP_NUM_THREADS=1 $(PY) -m pytest -m "not slow"

# Builds the student notebooks and the reference notebooks, then grades the reference solution
# (exported the way Colab exports it) on the offline profile and prints the score table.
demo: handout
	$(PY) -m grader demo

handout: setup
	$(PY) -m grader handout

# Speed figures on this machine: grader overhead, §1+§2, §3 (offline), a batch of ten submissions.
bench: handout
	OMP_NUM_THREADS=1 $(PY) -m bench

# COURSE=447 or COURSE=517 (required) builds dist/COURSE/autograder.zip, the CPU image Gradescope
# builds (CPU torch from the hashed lock, no Hugging Face download); GPU=1 builds the course's own GPU
# image instead, dist/COURSE/autograder-gpu.zip.
autograder: handout
	$(if $(COURSE),,$(error COURSE=447 or COURSE=517 is required))
	$(PY) -m grader package --course $(COURSE) $(if $(GPU),--gpu)

# COURSE=447 or COURSE=517 (required): dist/COURSE/a2-release-COURSE.zip, what the course hands to
# students (the notebooks, tinygpt/, that course's check.py and a README for students).
release: handout
	$(if $(COURSE),,$(error COURSE=447 or COURSE=517 is required))
	$(PY) -m grader release --course $(COURSE)

lock:
	tools/lock.sh

# Regrade tests/submissions/ and bring each expected.toml up to date; prints the diff for review.
# ARGS="--sections 1" for one section, ARGS="--check" to write nothing and fail on a difference.
corpus: handout
	OMP_NUM_THREADS=1 PYTHONPATH=. $(PY) tests/corpus_review.py $(ARGS)

clean:
	rm -rf dist .cache
