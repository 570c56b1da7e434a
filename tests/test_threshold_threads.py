"""The threshold run's thread budget (grader/sections/s3/drivers/threshold.py): the cores it may run on,
no more than OMP_NUM_THREADS says, and at least one."""

from __future__ import annotations

import os

import pytest

from grader.sections.s3.drivers import threshold


def test_the_run_uses_the_cores_it_may_run_on_within_omp_num_threads(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: {0, 1, 2})
    monkeypatch.setattr(threshold, "_cpu_quota", lambda: None)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert threshold.threads_allowed() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert threshold.threads_allowed() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "8")
    assert threshold.threads_allowed() == 3


def test_a_containers_cpu_quota_bounds_the_threads(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: set(range(16)))
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threshold, "_cpu_quota", lambda: 0.5)
    assert threshold.threads_allowed() == 1
    monkeypatch.setattr(threshold, "_cpu_quota", lambda: 4.0)
    assert threshold.threads_allowed() == 4


def test_the_quota_of_this_process_is_read_or_unlimited():
    quota = threshold._cpu_quota()
    assert quota is None or quota > 0
