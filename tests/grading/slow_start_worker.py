"""A worker target whose start-up is slow, for tests/grading/test_pool.py."""

import time


def warm_up() -> None:
    time.sleep(2.0)  # stands in for importing Math-Verify and sympy on a loaded machine


def double(x: int) -> int:
    return 2 * x


def sleep_for(seconds: float) -> float:
    time.sleep(seconds)
    return seconds
