"""Worker processes: a job's time limit counts from when its worker is ready, and is hard."""

from leash.grading.pool import TIMEOUT, WorkerPool


def test_start_up_does_not_count_against_a_job():
    # warm_up sleeps 2 s; with the clock started at send, every job would time out at 1 s.
    with WorkerPool("tests.grading.slow_start_worker:double", workers=2, timeout=1.0) as pool:
        results = dict(pool.map([1, 2, 3]))
    assert results == {0: 2, 1: 4, 2: 6}


def test_a_slow_job_is_killed_and_its_worker_replaced():
    with WorkerPool("tests.grading.slow_start_worker:sleep_for", workers=1, timeout=1.0) as pool:
        results = dict(pool.map([30.0, 0.1]))
    assert results[0] is TIMEOUT
    assert results[1] == 0.1
