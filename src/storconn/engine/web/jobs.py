"""Long actions (a domain activated on many hosts) run on while the page shows their progress.

An action starts in a thread of its own; the request waits for it a moment
(``QUICK``) so that what ends at once answers as before, and otherwise the
page polls the job: how many of the data center's hosts already hold (or
have let go of) the domain, and at the end the result — which the engine
also records as an event. Jobs live in this engine process's memory for a
while after they end (a poll goes to the process that started it: the
browser's connection is kept alive; behind a balancer, pin the web admin).
"""

from __future__ import annotations

import contextvars
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Job", "Jobs"]

QUICK = 2.0  # seconds a request waits before it shows progress instead
KEEP = 600.0  # seconds an ended job is kept for its last polls


@dataclass(slots=True)
class Job:
    id: str
    title: str
    domain_id: str
    action: str
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    result: str | None = None
    error: str | None = None
    done_event: threading.Event = field(default_factory=threading.Event)

    @property
    def done(self) -> bool:
        return self.done_event.is_set()


class Jobs:
    def __init__(self, on_end: Callable[[], None] = lambda: None) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._on_end = on_end  # what ends a job ends: e.g. the pages ask the hosts afresh

    def start(self, title: str, domain_id: str, action: str, run: Callable[[], str],
              failed: type[Exception]) -> Job:
        """Run ``run`` in a thread (with this request's context: who acts); its text, or ``failed``'s message."""
        job = Job(id=uuid.uuid4().hex, title=title, domain_id=domain_id, action=action)
        context = contextvars.copy_context()

        def work() -> None:
            try:
                job.result = context.run(run)
            except failed as exc:
                job.error = str(getattr(exc, "detail", exc)).strip("[]")
            finally:
                self._on_end()
                job.ended = time.monotonic()
                job.done_event.set()

        with self._lock:
            self._forget_old()
            self._jobs[job.id] = job
        threading.Thread(target=work, name=f"storconn-web-job-{job.id[:8]}", daemon=True).start()
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def _forget_old(self) -> None:
        now = time.monotonic()
        for job_id in [j.id for j in self._jobs.values() if j.ended is not None and now - j.ended > KEEP]:
            del self._jobs[job_id]
