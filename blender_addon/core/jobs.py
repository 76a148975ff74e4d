"""Backend jobs as the Blender shell sees them: requests, progress, cancel. Standard library only.

A ``Job`` sends one or more requests to a backend (``client.SubprocessBackend`` or
``client.InProcessBackend``) and is polled, by a modal operator's timer in Blender or by a
loop in batch mode. It ends exactly once: done (every result in), failed, or cancelled.
Nothing here touches the scene; the operator applies ``results`` when the job is done.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from . import protocol as P


@dataclass
class Job:
    backend: object
    requests: list[tuple[str, dict]]
    label: str = "SignForge"
    ids: list[int] = field(default_factory=list)
    results: dict[int, dict] = field(default_factory=dict)
    fractions: dict[int, float] = field(default_factory=dict)
    message: str = ""
    notices: list[str] = field(default_factory=list)
    error: str | None = None
    cancelled: bool = False
    finished: bool = False

    def start(self) -> "Job":
        self.ids = [self.backend.submit(method, params) for method, params in self.requests]
        self.message = f"{self.label}: started"
        return self

    @property
    def fraction(self) -> float:
        if not self.ids:
            return 0.0
        return sum(1.0 if i in self.results else self.fractions.get(i, 0.0) for i in self.ids) / len(self.ids)

    def result(self, k: int) -> dict:
        """The k-th request's result (after the job is done)."""
        return self.results[self.ids[k]]

    def poll(self) -> bool:
        """Read what the backend sent; True once the job has ended (see ``ok``)."""
        if self.finished:
            return True
        for msg in self.backend.poll():
            kind = msg.get("type")
            if kind == "notice":
                self.notices.append(str(msg.get("message", "")))
                continue
            if msg.get("id") not in self.ids:
                continue   # a late message of an earlier, abandoned request
            if kind == "progress":
                self.fractions[msg["id"]] = float(msg.get("fraction", 0.0))
                self.message = f"{self.label}: {msg.get('message', '')}".rstrip(": ")
            elif kind == "result":
                self.results[msg["id"]] = msg.get("result", {})
            elif kind == "error":
                if msg.get("code") == P.CANCELLED:
                    self.cancelled = True
                    self.error = "cancelled"
                else:
                    self.error = str(msg.get("message", "the backend failed"))
                self._abandon()
        if self.error is not None or len(self.results) == len(self.ids):
            self.finished = True
        return self.finished

    @property
    def ok(self) -> bool:
        return self.finished and self.error is None

    def cancel(self) -> None:
        """Ask the backend to stop; the job ends at once and later messages are ignored."""
        if not self.finished:
            self.cancelled, self.error, self.finished = True, "cancelled", True
            self._abandon()

    def _abandon(self) -> None:
        for i in self.ids:
            if i not in self.results:
                try:
                    self.backend.cancel(i)
                except Exception:   # a dead backend has nothing left to cancel
                    pass

    def wait(self, timeout: float = 600.0, interval: float = 0.02, on_progress=None) -> "Job":
        """Poll until the job ends (batch mode and scripts)."""
        end = time.monotonic() + timeout
        while not self.poll():
            if time.monotonic() > end:
                self.cancel()
                self.error = f"{self.label}: no answer from the backend in {timeout:.0f} s"
                break
            if on_progress is not None:
                on_progress(self)
            time.sleep(interval)
        return self
