"""``GenerateRequest``: what to generate, checked once, for every front end.

The command line (``signforge generate``), the server (the protocol's ``generate``) and
batch rendering (``signforge render``) build one of these and nothing else checks a
generation's settings: the bounds are the protocol's (``protocol.METHODS["generate"]``),
"seconds or frames, not both" and "a prompt or an image" are said here, each as one line
(``RequestError``, a ``ProtocolError`` with code ``invalid_params``). ``params`` is the
protocol's form of a request and ``arguments`` the keywords of ``backend.generate``; the
take's files are named by ``prompts.take_names``.

Standard library only (Blender's Python and the backend import it); never bpy.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

from . import protocol as P
from .prompts import take_names


class RequestError(P.ProtocolError):
    """A generation setting that cannot be used; ``code`` is ``invalid_params``."""

    def __init__(self, message: str):
        super().__init__(P.INVALID_PARAMS, message)

    def as_options(self) -> str:
        """The message as a command line says it: ``--steps`` where the protocol says ``parameter 'steps'``."""
        names = {p.name for p in P.METHODS["generate"].params}
        return re.sub(r"(?:parameter )?'(\w+)'", lambda m: f"--{m[1]}" if m[1] in names else m[0], self.message)


def offers_sampler(info: Mapping[str, Any] | None) -> bool:
    """Whether the backend's ``info`` for a model lists samplers to choose from: HandMDM's do, a
    SignAvatar run and a backend from before ``sampler`` do not. Not asked yet (None): offered."""
    return info is None or bool(info.get("samplers"))


@dataclass(frozen=True)
class GenerateRequest:
    """One generation: the protocol's ``generate`` parameters but ``out_dir`` (where the
    files go is the front end's), with its defaults. ``prompt`` may be None only with an
    ``image``."""
    prompt: str | None = None
    model: str = "handmdm"
    seconds: float | None = None
    frames: int | None = None
    guidance: float = 2.5
    steps: int = 50
    sampler: str = "ddim"
    seed: int = 0
    num: int = 1
    hand: str = "auto"
    refine: float | None = None
    run: str | None = None
    device: str = "cpu"
    image: str | None = None

    def __post_init__(self) -> None:
        given = {k: v for k, v in asdict(self).items() if v is not None}
        if given.get("prompt") is not None and not isinstance(given["prompt"], str):
            raise RequestError(f"the prompt must be text; got {type(given['prompt']).__name__}")
        if self.image is None and not (self.prompt or "").strip():
            raise RequestError("give a prompt or an image" if self.prompt is None else "the prompt is empty")
        given.setdefault("prompt", "")   # an image's request: the protocol's prompt is the empty text
        try:
            checked = P.check_params("generate", {**given, "out_dir": "."})
        except P.ProtocolError as exc:
            raise RequestError(exc.message.removeprefix("generate: ")) from None
        if checked["seconds"] is not None and checked["frames"] is not None:
            raise RequestError("give 'seconds' or 'frames', not both")
        for f in fields(self):   # the protocol's normal forms: an int seed from 3.0, a float from 2
            if f.name != "prompt":
                object.__setattr__(self, f.name, checked[f.name])

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> tuple["GenerateRequest", str]:
        """(the request, out_dir) of a protocol ``generate`` request's parameters."""
        try:
            checked = P.check_params("generate", params)
        except P.ProtocolError as exc:
            raise RequestError(exc.message.removeprefix("generate: ")) from None
        out_dir = checked.pop("out_dir")
        if not checked["prompt"].strip() and checked["image"] is not None:
            checked["prompt"] = None
        return cls(**checked), out_dir

    def params(self, out_dir: str) -> dict[str, Any]:
        """The protocol's ``generate`` parameters for this request, its files written in ``out_dir``."""
        out = {k: v for k, v in asdict(self).items() if v is not None}
        out.setdefault("prompt", "")
        return {**out, "out_dir": out_dir}

    def arguments(self) -> dict[str, Any]:
        """The keywords of ``backend.generate.generate`` for this request (``run`` as ``run_dir``)."""
        out = asdict(self)
        out["text"], out["run_dir"] = out.pop("prompt"), out.pop("run")
        return out

    def file_names(self, count: int | None = None, suffix: str = ".npz") -> list[str]:
        """The names of this request's ``count`` (default ``num``) takes: ``<slug>-s<seed>[-k]``."""
        return take_names(self.prompt or "image", self.seed, self.num if count is None else count, suffix)
