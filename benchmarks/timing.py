"""Repeated measurements and their summaries.

The machine is shared and noisy: one measurement says little, so every
figure is the median of many, and the p99 shows how bad the tail gets.
Figure and limit are measured interleaved (one of each in turn), so a burst
of noise from a neighbour hits both rather than only one of them.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(slots=True)
class Samples:
    """Durations of one measured action, in seconds."""

    values: list[float] = field(default_factory=list)

    def add(self, seconds: float) -> None:
        self.values.append(seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def p99(self) -> float:
        """Nearest-rank 99th percentile: with 200 samples, the second slowest."""
        ordered = sorted(self.values)
        return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]

    def __len__(self) -> int:
        return len(self.values)


def timed(action: Callable[[], object]) -> tuple[float, object]:
    """Run ``action`` once; return (seconds, its result)."""
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def interleave(
    rounds: int,
    actions: dict[str, Callable[[int], object]],
    *,
    warmup: int = 0,
    pause: float = 0.0,
) -> dict[str, Samples]:
    """Run each action once per round, rotating which goes first; time each.

    ``actions`` get the round number (warm-up rounds count from ``-warmup``)
    so they can pick fresh ids. Warm-up rounds are run and thrown away: the
    first calls pay for page faults, lazy imports and a cold page cache.
    ``pause`` sleeps between actions so background work an action triggers
    (the agent's reconciler) finishes before the next one is timed.
    """
    samples = {name: Samples() for name in actions}
    names = list(actions)
    for number in range(-warmup, rounds):
        shift = number % len(names)
        for name in names[shift:] + names[:shift]:
            seconds, _ = timed(lambda: actions[name](number))
            if number >= 0:
                samples[name].add(seconds)
            if pause:
                time.sleep(pause)
    return samples


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.01) -> None:
    """Poll ``condition`` until true; RuntimeError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not done within {timeout:g} s")
        time.sleep(interval)
