"""The grading image, built from the autograder zip and run for real, as Gradescope would.

No Docker engine exists here, so podman builds gradescope/Dockerfile (installing what it needs from
Debian's packages) on a local stand-in for Gradescope's base image: Debian bookworm made by debootstrap,
cached as a tarball under .cache/image/ (Gradescope's own base cannot be pulled here). The image gets
the CPU build of torch and no Hugging Face models (the offline profile grades §3, as on Gradescope,
which has no GPU). Each run mounts Gradescope's layout (submission/ and results/, results/stdout
created first and appended to, as the harness does) and runs /autograder/run_autograder with the
container's default capabilities, like a Gradescope container: reference → full marks, template →
zero with a reason for every test, a hostile submission → nothing forged.

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
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from gradescope_layout import HARNESS_LINE, HOSTILE, HOSTILE_FUNCTIONS, by_number
from lockfiles import canonical, lock_pins

from grader.results import validate
from grader.table import load_table
from gradescope.autograde import NO_GPU_NOTE
from gradescope.package import build_zip
from handout.build import NOTEBOOKS, build

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="podman builds and runs images as root here"),
]

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache" / "image"
BASE_TARBALL = CACHE / "bookworm-minbase.tar.gz"
BASE_IMAGE = "localhost/a2-base:bookworm"
IMAGE = "localhost/a2-autograder:test"
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


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory, measurements: dict) -> Iterator[str]:
    """Builds the image from the autograder zip, as an instructor would (README: Gradescope), and
    removes it afterwards (1.8 GB a build; the cached base stays)."""
    _ensure_tools()
    _ensure_base_image()
    wheels = _torch_wheels()
    context = tmp_path_factory.mktemp("context")
    with zipfile.ZipFile(build_zip(tmp_path_factory.mktemp("zip") / "autograder.zip")) as archive:
        archive.extractall(context)
    command = [*PODMAN, "build", "--format", "docker", "--isolation", "chroot", "--network", "host"]
    command += ["--layers=false"]
    command += ["-f", str(context / "gradescope" / "Dockerfile"), "-t", IMAGE]
    command += ["--build-arg", f"BASE_IMAGE={BASE_IMAGE}", "--build-arg", "FETCH_MODELS=0"]
    command += ["-v", f"{wheels}:/wheels:ro", "--build-arg", "TORCH_WHEELS=/wheels"]
    if HOST_CA.exists():  # the registries may be reached through a proxy whose CA only the host trusts
        command += ["-v", f"{HOST_CA}:/host-ca.crt:ro", "--build-arg", "PIP_CERT=/host-ca.crt"]
    started = time.monotonic()
    built = subprocess.run(
        [*command, str(context)], capture_output=True, text=True, timeout=2400, check=False
    )
    assert built.returncode == 0, built.stdout[-6000:] + built.stderr[-3000:]
    measurements["build_seconds"] = round(time.monotonic() - started)
    size = _run([*PODMAN, "image", "inspect", "--format", "{{.Size}}", IMAGE], 600).stdout
    measurements["image_bytes"] = int(size)
    yield IMAGE
    subprocess.run([*PODMAN, "rmi", "--force", IMAGE], capture_output=True, timeout=600, check=False)


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


def test_reference_gets_full_marks_in_the_image(
    image: str, layout: Path, handout_dirs: tuple[Path, Path], measurements: dict
) -> None:
    shutil.copytree(handout_dirs[1], layout / "submission", dirs_exist_ok=True)
    results, output = _grade_in_container(image, layout, measurements, "reference_run")
    failed = {t["number"]: t["output"] for t in results["tests"] if t["status"] != "passed"}
    assert not failed, f"the reference solution lost points in the image: {failed}"
    assert results["score"] == sum(row.points for row in load_table().tests)
    assert results["output"].startswith(NO_GPU_NOTE)
    assert "submission 4470002 by Image Test" in output and "total" in output
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
