"""`make bench`: run every benchmark in turn and print its figures."""

from __future__ import annotations

import importlib
import time

BENCHMARKS = (
    "bench.breakdown",
    "bench.targets",
    "bench.floor",
    "bench.overhead",
    "bench.intake",
    "bench.s12_cpu",
    "bench.s3_cpu",
    "bench.batch_cpu",
    "bench.containment",
)


def main() -> None:
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        importlib.import_module(name).main()
        print(f"== {name} took {time.perf_counter() - started:.1f} s\n", flush=True)


if __name__ == "__main__":
    main()
