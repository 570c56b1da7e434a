"""The threshold run's thread budget (a2/sections/s3/drivers/threshold.py): the cores it may run on,
no more than OMP_NUM_THREADS says, and at least one."""

from __future__ import annotations

import os

import pytest

from a2.sections.s3.drivers import threshold


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


@pytest.mark.parametrize(("many", "one", "kept"), [(0.02, 0.03, 4), (0.06, 0.03, 1)])
def test_after_the_prefix_the_faster_thread_count_keeps_the_run(monkeypatch, many, one, kept):
    chosen: list[int] = []
    monkeypatch.setattr(threshold.torch, "set_num_threads", chosen.append)
    clock = [100.0]
    monkeypatch.setattr(threshold.time, "monotonic", lambda: clock[0])
    trial = threshold._ThreadTrial(4)
    for _ in range(2 * threshold.TRIAL_STEPS + 5):
        trial.next_step()
        clock[0] += many if chosen[-1] == 4 else one
    assert chosen[: 2 * threshold.TRIAL_STEPS] == [4] * threshold.TRIAL_STEPS + [1] * threshold.TRIAL_STEPS
    assert chosen[-1] == kept and len(chosen) == 2 * threshold.TRIAL_STEPS + 1


def test_one_thread_allowed_means_no_trial(monkeypatch):
    chosen: list[int] = []
    monkeypatch.setattr(threshold.torch, "set_num_threads", chosen.append)
    trial = threshold._ThreadTrial(1)
    for _ in range(20):
        trial.next_step()
    assert chosen == []
