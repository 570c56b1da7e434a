"""The grading image, built from the autograder zip and run for real, as docs/gradescope.md says.

The page's podman commands run as written (bash, from a scratch copy of this checkout): `make
autograder COURSE=447`, unzip, `podman build`, `podman run` on the reference solution. A shell
function named `podman` adds only what this machine needs and a TA's does not: `runc` with explicit
limits (crun cannot manage this kernel's cgroups), a Debian bookworm stand-in for Gradescope's base
image (made by debootstrap, cached as a tarball under .cache/image/; Gradescope's own base cannot be
pulled here), the torch wheel from a local folder (PyTorch's index is unreachable here), the
registries' CA, and a measurement of the run's peak memory. The zip's own build settings are used:
the CPU build of torch from the hashed lock and no Hugging Face download, what Gradescope runs.

Then more runs of the same image mount Gradescope's layout (submission/ and results/, results/stdout
created first and appended to, as the harness does) and run /autograder/run_autograder with the
container's default capabilities, like a Gradescope container: template → zero with a reason for
every test, a hostile submission → nothing forged; and the image holds exactly the runtime lock.

Build time, image size and each run's peak memory (the container's memory cgroup) are printed and
written to .cache/image/measurements.json. Slow (minutes): marked `slow`; CI runs it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from gradescope_layout import HARNESS_LINE, HOSTILE, HOSTILE_FUNCTIONS, by_number
from lockfiles import canonical, lock_pins

from grader.results import validate
from grader.table import load_table
from gradescope.autograde import NO_GPU_NOTE
from handout.build import NOTEBOOKS, build

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="podman builds and runs images as root here"),
]

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache" / "image"
BASE_TARBALL = CACHE / "bookworm-minbase.tar.gz"
BASE_IMAGE = "localhost/a2-base:bookworm"
# The tag docs/gradescope.md gives the image.
IMAGE = "localhost/a2-autograder:447"
DEBIAN_PACKAGES = {"podman": "podman", "buildah": "buildah", "debootstrap": "debootstrap", "runc": "runc"}
# crun cannot manage this kernel's cgroups; runc needs explicit limits for open files and processes.
PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs"]
RUN_LIMITS = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096"]
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
# What one run may use at most: more than the README's recommended memory would fail this test.
MEMORY_LIMIT = "4g"
PEAK_MEMORY = "memory.max_usage_in_bytes"


def _run(command: list[str], timeout: float, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, timeout=timeout, check=True, text=True, capture_output=True, **kwargs)


def _ensure_tools() -> None:
    missing = [package for tool, package in DEBIAN_PACKAGES.items() if shutil.which(tool) is None]
    if not missing:
        return
    if shutil.which("apt-get") is None:
        pytest.skip(f"cannot install {', '.join(missing)} without apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        _run(["apt-get", "update"], 600, env=env)
        _run(["apt-get", "install", "-y", "--no-install-recommends", *missing], 900, env=env)
    except subprocess.CalledProcessError as error:
        pytest.skip(f"installing {', '.join(missing)} failed: {error.stderr[-500:]}")


def _ensure_base_image() -> None:
    """Debian bookworm (minbase) as the stand-in base; the tarball is cached across runs."""
    if subprocess.run([*PODMAN, "image", "exists", BASE_IMAGE], check=False).returncode == 0:
        return
    if not BASE_TARBALL.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="a2-debootstrap-") as root:
            _run(["debootstrap", "--variant=minbase", "bookworm", root, "http://deb.debian.org/debian"], 1200)
            partial = BASE_TARBALL.with_suffix(".partial")
            with partial.open("wb") as tarball:
                tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
                subprocess.run(["gzip", "-1"], stdin=tar.stdout, stdout=tarball, check=True)
                assert tar.wait() == 0
            partial.rename(BASE_TARBALL)
    _run([*PODMAN, "import", str(BASE_TARBALL), BASE_IMAGE], 600)


def _torch_wheels() -> Path:
    """A folder holding the torch wheel pip picks here (the CPU build where pip is configured for it)."""
    folder = CACHE / "wheels"
    if not list(folder.glob("torch-*.whl")):
        folder.mkdir(parents=True, exist_ok=True)
        _run([sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(folder), "torch==2.13.0"], 1800)
    return folder


@pytest.fixture(scope="module")
def measurements() -> Iterator[dict]:
    figures: dict = {}
    yield figures
    CACHE.mkdir(parents=True, exist_ok=True)
    (CACHE / "measurements.json").write_text(json.dumps(figures, indent=2) + "\n")
    print("\nimage measurements:", json.dumps(figures, indent=2))


# What this machine needs added to the page's podman commands (see the module's docstring). The build
# and the run are timed, and the run's peak memory is read from its cgroup into /peak/bytes.
PODMAN_HERE = """
podman() {{
  local verb=$1
  shift
  case $verb in
    build)
      local started=$SECONDS
      command podman --runtime runc --cgroup-manager cgroupfs build --format docker --isolation chroot \\
        --network host --layers=false --build-arg BASE_IMAGE={base} \\
        -v {wheels}:/wheels:ro --build-arg TORCH_WHEELS=/wheels {ca} "$@"
      echo "build_seconds $((SECONDS - started))" >> {timings}
      ;;
    run)
      local started=$SECONDS arguments=("$@")
      local last=$(( ${{#arguments[@]}} - 1 ))
      if [ "${{arguments[$last]}}" = /autograder/run_autograder ]; then
        arguments[$last]="/autograder/run_autograder; cat /sys/fs/cgroup/memory/{peak_file} > /peak/bytes"
        arguments=(-v {peak}:/peak "${{arguments[@]:0:$last}}" bash -c "${{arguments[$last]}}")
      fi
      command podman --runtime runc --cgroup-manager cgroupfs run {limits} --memory {memory} \\
        "${{arguments[@]}}"
      echo "run_seconds $((SECONDS - started))" >> {timings}
      ;;
    *) command podman --runtime runc --cgroup-manager cgroupfs "$verb" "$@" ;;
  esac
}}
"""


def _scratch_checkout(top: Path) -> Path:
    """A copy of the checkout's tracked and new files, with .venv linked (what a fresh clone has
    after `make setup`)."""
    copy = top / "repo"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if (REPO / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, copy / name)
    (copy / ".venv").symlink_to(REPO / ".venv")
    return copy


def _page_commands() -> str:
    text = (REPO / "docs" / "gradescope.md").read_text(encoding="utf-8")
    return text.split("```sh podman\n", 1)[1].split("```", 1)[0]


@pytest.fixture(scope="module")
def documented_run(
    tmp_path_factory: pytest.TempPathFactory, measurements: dict
) -> Iterator[tuple[Path, str]]:
    """Runs docs/gradescope.md's podman commands; returns the scratch checkout and what they printed.
    Removes the image afterwards (1.8 GB a build; the cached base stays)."""
    _ensure_tools()
    _ensure_base_image()
    top = tmp_path_factory.mktemp("documented")
    copy = _scratch_checkout(top)
    (top / "peak").mkdir()
    ca = f"-v {HOST_CA}:/host-ca.crt:ro --build-arg PIP_CERT=/host-ca.crt" if HOST_CA.exists() else ""
    wrapper = PODMAN_HERE.format(
        base=BASE_IMAGE,
        wheels=_torch_wheels(),
        ca=ca,
        timings=top / "timings",
        peak_file=PEAK_MEMORY,
        peak=top / "peak",
        limits=" ".join(RUN_LIMITS),
        memory=MEMORY_LIMIT,
    )
    env = {**os.environ, "PATH": f"{REPO / '.venv' / 'bin'}:{os.environ['PATH']}", "OMP_NUM_THREADS": "1"}
    env.pop("A2_COURSE", None)
    script = "set -euo pipefail\n" + wrapper + _page_commands()
    finished = subprocess.run(
        ["bash", "-c", script], cwd=copy, env=env, capture_output=True, text=True, timeout=3600, check=False
    )
    assert finished.returncode == 0, finished.stdout[-6000:] + finished.stderr[-3000:]
    timings = dict(line.split() for line in (top / "timings").read_text().splitlines())
    measurements["build_seconds"] = int(timings["build_seconds"])
    measurements["reference_run"] = {
        "seconds": int(timings["run_seconds"]),
        "peak_memory_bytes": int((top / "peak" / "bytes").read_text()),
        "confinement": [line for line in finished.stdout.splitlines() if "confinement" in line.lower()],
    }
    size = _run([*PODMAN, "image", "inspect", "--format", "{{.Size}}", IMAGE], 600).stdout
    measurements["image_bytes"] = int(size)
    yield copy, finished.stdout
    subprocess.run([*PODMAN, "rmi", "--force", IMAGE], capture_output=True, timeout=600, check=False)


@pytest.fixture(scope="module")
def image(documented_run: tuple[Path, str]) -> str:
    return IMAGE


LIST_DISTRIBUTIONS = (
    "import json, importlib.metadata as m; "
    "print(json.dumps(sorted({d.metadata['Name'] for d in m.distributions()})))"
)


def test_the_image_holds_the_runtime_lock_and_nothing_else(image: str) -> None:
    python = "/opt/a2grader/venv/bin/python"
    listed = _run([*PODMAN, "run", "--rm", *RUN_LIMITS, image, python, "-c", LIST_DISTRIBUTIONS], 300).stdout
    # pip itself comes with the virtual environment; everything else must come from the lock.
    installed = {canonical(name) for name in json.loads(listed)} - {"pip"}
    locked = set(lock_pins("runtime"))
    assert installed == locked, (
        f"not in the runtime lock: {sorted(installed - locked)}; "
        f"locked but not installed: {sorted(locked - installed)}"
    )


def _grade_in_container(image: str, root: Path, measurements: dict, label: str) -> tuple[dict, str]:
    """Runs /autograder/run_autograder in a fresh container with `root`'s submission and results."""
    results = root / "results"
    results.mkdir()
    captured = results / "stdout"
    captured.write_text(HARNESS_LINE)
    metadata = root / "submission_metadata.json"
    metadata.write_text(
        json.dumps({"id": 4470002, "users": [{"name": "Image Test", "email": "i@example.edu"}]})
    )
    # The peak of the container's memory cgroup is read after run_autograder, into a file of its own.
    peak = root / "peak"
    peak.mkdir()
    script = f"/autograder/run_autograder; cat /sys/fs/cgroup/memory/{PEAK_MEMORY} > /peak/bytes"
    command = [*PODMAN, "run", "--rm", *RUN_LIMITS, "--network", "none", "--memory", MEMORY_LIMIT]
    command += ["-v", f"{root / 'submission'}:/autograder/submission", "-v", f"{results}:/autograder/results"]
    command += ["-v", f"{metadata}:/autograder/submission_metadata.json", "-v", f"{peak}:/peak"]
    command += [image, "bash", "-c", script]
    started = time.monotonic()
    with captured.open("a") as stdout:
        finished = subprocess.run(command, stdout=stdout, stderr=subprocess.STDOUT, timeout=2400, check=False)
    output = captured.read_text()
    assert finished.returncode == 0, output[-6000:]
    assert output.startswith(HARNESS_LINE), "run_autograder truncated or rewrote the harness's stdout"
    measurements[label] = {
        "seconds": round(time.monotonic() - started),
        "peak_memory_bytes": int((peak / "bytes").read_text()),
        "confinement": [line for line in output.splitlines() if "confinement" in line.lower()],
    }
    outcome = json.loads((results / "results.json").read_text())
    validate(outcome)
    return outcome, output


@pytest.fixture(scope="module")
def handout_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    student_dir, dist_dir = tmp_path_factory.mktemp("student"), tmp_path_factory.mktemp("dist")
    build(REPO, student_dir, dist_dir)
    return student_dir, dist_dir / "reference_submission"


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    (tmp_path / "submission").mkdir()
    return tmp_path


def test_the_documented_commands_build_the_image_and_grade_the_reference(
    documented_run: tuple[Path, str], measurements: dict
) -> None:
    copy, output = documented_run
    results = json.loads((copy / "build" / "run" / "results" / "results.json").read_text())
    validate(results)
    failed = {t["number"]: t["output"] for t in results["tests"] if t["status"] != "passed"}
    assert not failed, f"the reference solution lost points in the image: {failed}"
    assert results["score"] == sum(row.points for row in load_table().tests), "50 and the 5 of extra credit"
    assert output.splitlines()[-1] == str(results["score"]), "the page's last command prints the score"
    assert results["output"].startswith(NO_GPU_NOTE) and results["extra_data"]["course"] == "CSE 447"
    assert "== For the staff: CSE 447, profile 'offline'" in output and "total" in output
    # The container's default capabilities (no CAP_SYS_ADMIN, as on Gradescope) allow no namespaces:
    # the report must say what each section's process got instead.
    report = measurements["reference_run"]["confinement"]
    for section in (1, 2, 3):
        lines = [line for line in report if f"section {section} confinement" in line]
        assert lines and all("no mount namespace" in line for line in lines), report


def test_template_scores_zero_with_reasons_in_the_image(
    image: str, layout: Path, handout_dirs: tuple[Path, Path], measurements: dict
) -> None:
    for name in NOTEBOOKS:
        shutil.copy(handout_dirs[0] / f"{name}.ipynb", layout / "submission" / f"{name}.ipynb")
    results, _ = _grade_in_container(image, layout, measurements, "template_run")
    assert results["score"] == 0 and len(results["tests"]) == len(load_table().tests)
    assert all(test["status"] == "failed" and test["output"].strip() for test in results["tests"])


def test_hostile_submission_forges_nothing_in_the_image(image: str, layout: Path, measurements: dict) -> None:
    (layout / "submission" / "A2S1.py").write_text(HOSTILE.format(root="/autograder"))
    (layout / "submission" / "A2S2.py").write_text(HOSTILE_FUNCTIONS)
    results, _ = _grade_in_container(image, layout, measurements, "hostile_run")
    tests = by_number(results)
    assert tests["1.2.1"]["status"] == "passed", "an attack was not refused: " + tests["1.2.1"]["output"]
    assert results["score"] == tests["1.2.1"]["max_score"]
    assert len(results["tests"]) == len(load_table().tests)
