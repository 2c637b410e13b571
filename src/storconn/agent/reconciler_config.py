"""The reconciler's timing budgets, shared by the loop and the operations."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ReconcilerConfig:
    """Timing budgets, in seconds.

    With the defaults an outage shows in ``statuses`` within probe_interval +
    probe_timeout = 4 s, and a server that comes back is used again within
    backoff_cap (1.5 s) + one mount (≤ 0.5 s for a network file system) = 2 s.
    """

    period: float = 1.0
    grace: float = 2.0  # last release → disconnect; a new acquire within it cancels
    backoff_base: float = 0.25
    backoff_cap: float = 1.5
    probe_interval: float = 2.0
    probe_timeout: float = 2.0
    # One failed probe is not enough to unmount: a busy server can miss one
    # deadline. Three in a row (6 s with the defaults) is an outage.
    probe_failures_to_repair: int = 3
    probe_retry_interval: float = 0.5  # between probes of a target that failed one
    unsupported_retry: float = 30.0  # between attempts this host cannot do (494)
    # A busy unmount is retried after one period, then every 2, 4, ... up to
    # this: a mount held for hours costs a umount every 10 s, not 20 a second,
    # and one let go of is unmounted within 10 s.
    busy_retry_cap: float = 10.0
    pool_size: int = 16
