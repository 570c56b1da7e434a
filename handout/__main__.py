"""``python -m handout`` (``make handout``, ``python -m grader handout``): build the student template and
the reference outputs."""

import argparse
import sys
from pathlib import Path

from handout.build import BuildError, build
from handout.markers import MarkerError

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m handout", description=__doc__)
    parser.add_argument("--root", type=Path, default=REPOSITORY_ROOT, help="repository with reference/")
    parser.add_argument("--student-dir", type=Path, help="default: <root>/student_template")
    parser.add_argument("--dist-dir", type=Path, help="default: <root>/dist")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    student_dir = args.student_dir or root / "student_template"
    dist_dir = args.dist_dir or root / "dist"
    try:
        build(root, student_dir, dist_dir, root / "docs")
    except (BuildError, MarkerError) as error:
        print(f"handout: error: {error}", file=sys.stderr)
        return 1
    print(f"handout: wrote {student_dir} and {dist_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
