"""Backend jobs as the Blender shell sees them: requests, progress, cancel. Standard library only.

A ``Job`` sends one or more requests to a backend (``client.SubprocessBackend`` or
``client.InProcessBackend``) and is polled, by a modal operator's timer in Blender or by a
loop in batch mode. It ends exactly once: done (every result in), failed, or cancelled.
Nothing here touches the scene; the operator applies ``results`` when the job is done.
``stage`` is the running request's phase (``protocol.STAGE_LOADING`` while a model loads)
and ``warnings`` the backend's notes that came with the results (a truncated prompt...).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from . import protocol as P


@dataclass
class Job:
    backend: Any   # a client.Backend: submit, poll, cancel
    requests: list[tuple[str, dict]]
    label: str = "SignForge"
    ids: list[int] = field(default_factory=list)
    results: dict[int, dict] = field(default_factory=dict)
    fractions: dict[int, float] = field(default_factory=dict)
    message: str = ""
    notices: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    stage: str = ""
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
                self.stage = str(msg.get("stage", ""))
            elif kind == "result":
                self.results[msg["id"]] = msg.get("result", {})
                self.warnings += [str(w) for w in self.results[msg["id"]].get("warnings", ())]
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


def check_generate(params: dict, info: dict | None) -> None:
    """Refuse, before anything is sent, a ``generate`` request past what the backend's ``info``
    reported for its model (``ValueError`` names the field and the limit); no info: no check."""
    if not info or "error" in info:
        return
    name = f"{info.get('run') or info.get('model', 'the model')}"
    seconds = params.get("seconds")
    longest = info.get("longest_frames")
    fps = float(info.get("fps") or 25.0)
    if seconds is not None and longest and round(seconds * fps) > longest:
        raise ValueError(f"Duration {seconds:.2f} s is longer than this model's longest take, {longest / fps:.2f} s "
                         f"({name}); shorten it or turn on Auto")
    low, high = info.get("steps") or (1, None)
    if high is not None and not low <= params.get("steps", low) <= high:
        raise ValueError(f"Steps {params['steps']} is outside {low}..{high} for {name}")
    if info.get("variants") and params.get("num", 1) > info["variants"]:
        raise ValueError(f"{params['num']} variants is over {name}'s limit of {info['variants']}")
    if params.get("image") and not info.get("images"):
        raise ValueError(f"Image: {info.get('images_note') or 'this model takes no images'}")
