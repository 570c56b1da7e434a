#!/usr/bin/env bash
# A head TA's term from a fresh clone, each step timed: the commands of README.md and docs/ in the
# order a course runs them. Build the handout, the students' archive and the autograder zip for each
# course; build the image with podman and grade the reference and the untouched template in it (the
# page's commands, through tests/test_gradescope_image.py, which also checks the scores); then
# regrade a small class export (a correct student, a group of two, a late submission, a §1 whose top
# level never ends, an untouched template) with a due date, rerun it, and print what the CSVs say.
# Usage (as root, in the clone, after `make setup`): bash bench/head_ta_walkthrough.sh [WORK_FOLDER]
# Each step's output goes to WORK_FOLDER/STEP.log (default: a new temporary folder).
set -uo pipefail
work=${1:-$(mktemp -d /tmp/a2-walkthrough-XXXX)}
mkdir -p "$work"
py=.venv/bin/python
step() {
  local name=$1; shift
  local begun; begun=$(date +%s)
  "$@" > "$work/$name.log" 2>&1
  local status=$?
  printf 'walkthrough: %-16s exit %d  %4d s\n' "$name" "$status" "$(( $(date +%s) - begun ))"
}
image() {
  # The page's podman commands (docs/gradescope.md), as tests/test_gradescope_image.py runs them: it
  # adds only what this machine needs (a local stand-in for Gradescope's base image, runc, the torch
  # wheel), builds the image, grades the reference, the untouched template and a hostile upload in it.
  $py -m pytest -q -p no:cacheprovider tests/test_gradescope_image.py &&
    python3 -c 'import json; m = json.load(open(".cache/image/measurements.json")); print("build", m["build_seconds"], "s; reference run", m["reference_run"]["seconds"], "s; template run", m["template_run"]["seconds"], "s; peak", round(m["reference_run"]["peak_memory_bytes"] / 2**30, 2), "GiB")'
}
class_export() {
  local export=$1
  rm -rf "$export" && mkdir -p "$export"/submission_{1,2,3,4,5}
  cp tests/submissions/a2s1/correct_colab.py "$export/submission_1/A2S1.py"
  cp tests/submissions/a2s1/correct_nbconvert_numpy.py "$export/submission_2/A2S1.py"
  cp tests/submissions/a2s1/bug_query_too_weak.py "$export/submission_3/A2S1.py"
  printf 'import time\n\n\ndef slow():\n    while True:\n        time.sleep(1)\n\n\nquery121 = slow()\n' \
    > "$export/submission_4/A2S1.py"
  cp student_template/A2S1.ipynb "$export/submission_5/A2S1.ipynb"
  local who=("" "Ada One" "Bo Two" "Di Late" "Ed Hang" "Flo Template")
  local when=("" "2024-02-09 20:00" "2024-02-09 21:00" "2024-02-11 02:30" "2024-02-09 22:00" "2024-02-09 23:00")
  {
    for n in 1 2 3 4 5; do
      printf 'submission_%d:\n  :created_at: %s:00.000000000 -08:00\n  :submitters:\n' "$n" "${when[$n]}"
      printf "  - :name: %s\n    :sid: '%d'\n    :email: s%d@example.edu\n" "${who[$n]}" "$n" "$n"
      if [ "$n" = 2 ]; then printf "  - :name: Cy Three\n    :sid: '7'\n    :email: s7@example.edu\n"; fi
    done
  } > "$export/submission_metadata.yml"
}
regrade() {
  $py -m grader batch "$work/export" --out "$work/regrade" --course 447 --sections 1 --jobs 2 \
    --due 2024-02-09T23:59-08:00
}
step handout make handout
step release_447 make release COURSE=447
step release_517 make release COURSE=517
step zip_447 make autograder COURSE=447
step zip_517 make autograder COURSE=517
step image image
class_export "$work/export"
step batch regrade
step batch_rerun regrade
grep -h "^build" "$work/image.log"
for table in grades.csv canvas.csv; do
  echo "walkthrough: $table"
  cat "$work/regrade/$table"
done
echo "walkthrough: logs in $work"
