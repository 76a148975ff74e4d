"""Takes: what a result is called, what it records and where it goes. Standard library only; never bpy.

A take is described when the operator runs, from the request it sends: its name, the
full prompt, seed, steps, guidance, model and so on. So typing the next prompt while a
job runs renames nothing. When the result arrives, the backend's provenance (what
actually ran, quality figures) is merged in and the lot becomes custom properties of the
take's action, each named ``signforge_<key>``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

PREFIX = "signforge_"
NAME_BYTES = 63          # Blender 4.x's data-block name limit, in UTF-8 bytes (5.0 allows 255)
PROPERTY_NAME_BYTES = 63  # a custom property's name limit
ELLIPSIS = "…"

# where a take goes; the panel's enum lists these in this order, the first is the default
INSERT_MODES = (
    ("NLA", "NLA Strip", "A strip on a 'SignForge' NLA track at the playhead (a new track when it would "
                         "overlap a strip there); the active action is left alone"),
    ("ACTION", "New Action", "A new action, made active, its keys starting at the playhead (the one it "
                             "replaces is stashed in the NLA, as Blender does)"),
    ("REPLACE", "Replace Active Action", "Replace the keys of the active action, keeping the action itself "
                                         "(its strips and users keep working)"),
)

Value = str | int | float
TEXT_KEYS = frozenset({"prompt", "video", "source_file", "source", "run", "model", "name", "text"})  # never numbers


def take_name(text: str, fallback: str = "SignForge take", limit: int = NAME_BYTES) -> str:
    """A data-block name from ``text``: whitespace collapsed, cut (with "…") to ``limit``
    UTF-8 bytes on a character boundary; ``fallback`` when ``text`` is blank."""
    text = " ".join((text or "").split()) or fallback
    if len(text.encode()) <= limit:
        return text
    room = limit - len(ELLIPSIS.encode())
    return text.encode()[:room].decode("utf-8", "ignore").rstrip() + ELLIPSIS


INT32 = range(-2**31, 2**31)   # Blender's integer custom properties are 32-bit


def _value(v) -> Value:
    """A provenance string as the number it spells, when it spells one (quality figures);
    an integer Blender cannot hold stays text."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (int, float)):
        return v if not isinstance(v, int) or v in INT32 else str(v)
    s = str(v)
    try:
        n = int(s)
        return n if n in INT32 else s
    except ValueError:
        pass
    try:
        return float(s)
    except ValueError:
        return s


@dataclass(frozen=True)
class Take:
    """One request's take(s), fixed at submit time: name, custom properties, placement."""
    name: str
    properties: Mapping[str, Value] = field(default_factory=dict)
    mode: str = "NLA"
    frame: int = 1           # where its keys start (the playhead when the operator ran)
    fit_scene: bool = False  # the user asked for the scene's frame range to follow the take
    key_tolerance: float = 0.0   # degrees a reduced key may turn a bone from the motion; 0: no reduction

    def variant(self, i: int, n: int, limit: int = NAME_BYTES) -> str:
        """The i-th (0-based) of ``n`` variants' name: ``name #i+1`` when n > 1."""
        if n == 1:
            return self.name
        tail = f" #{i + 1}"
        return take_name(self.name, limit=limit - len(tail.encode())) + tail

    def record(self, provenance: Mapping[str, str] | None = None) -> dict[str, Value]:
        """The action's custom properties: the request's values, then the backend's
        provenance over them (it says what actually ran), numbers as numbers."""
        out: dict[str, Value] = {}
        for key, v in [*self.properties.items(), *(provenance or {}).items()]:
            name = PREFIX + str(key)
            if v is None or len(name.encode()) > PROPERTY_NAME_BYTES:
                continue
            out[name] = str(v) if key in TEXT_KEYS else _value(v)
        return out


def generate_take(params: Mapping, mode: str = "NLA", frame: int = 1, fit_scene: bool = False,
                  limit: int = NAME_BYTES, key_tolerance: float = 0.0) -> Take:
    """The take of a ``generate`` request (the backend's parameters, as sent)."""
    keys = ("prompt", "model", "run", "seed", "steps", "guidance", "sampler", "hand", "seconds", "refine")
    props = {k: params[k] for k in keys if params.get(k) is not None}
    return Take(take_name(params.get("prompt", ""), limit=limit), props, mode, frame, fit_scene, key_tolerance)


def video_take(params: Mapping, stem: str, mode: str = "NLA", frame: int = 1, fit_scene: bool = False,
               limit: int = NAME_BYTES, key_tolerance: float = 0.0) -> Take:
    """The take of a ``reconstruct`` request: named from the file, which it records with the trim."""
    props = {"video": params["path"], "trim_start": params.get("start"), "trim_end": params.get("end"),
             "denoise": int(bool(params.get("denoise")))}
    return Take(take_name(stem, "video", limit=limit), props, mode, frame, fit_scene, key_tolerance)


QUALITY_KEYS = ("left_hand_found", "right_hand_found", "reprojection_px", "confidence_mean", "confidence_min",
                "left_confidence_mean", "right_confidence_mean")


def quality_record(quality: Mapping | None) -> dict[str, float]:
    """A reconstruction's quality figures (the ``reconstruct`` result's ``quality``) that a take
    records, numbers only; anything else the backend sent is left out."""
    out = {}
    for key in QUALITY_KEYS:
        v = (quality or {}).get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v:
            out[key] = float(v)
    return out


def quality_lines(quality: Mapping | None) -> list[str]:
    """The quality figures as the panel shows them, a short line each (none when there are none)."""
    q = quality_record(quality)
    lines = []
    if "left_hand_found" in q and "right_hand_found" in q:
        lines.append(f"Hands found: left {q['left_hand_found']:.0%}, right {q['right_hand_found']:.0%}")
    if "reprojection_px" in q:
        lines.append(f"Reprojection error: {q['reprojection_px']:.1f} px")
    if "confidence_mean" in q:
        low = f", lowest {q['confidence_min']:.2f}" if "confidence_min" in q else ""
        lines.append(f"Confidence: mean {q['confidence_mean']:.2f}{low}")
    if "left_confidence_mean" in q and "right_confidence_mean" in q:
        lines.append(f"Per hand: left {q['left_confidence_mean']:.2f}, right {q['right_confidence_mean']:.2f}")
    return lines


def quality_summary(quality: Mapping | None) -> str:
    """The quality figures in one line for the Info log and the status ("" when there are none)."""
    return "; ".join(line[0].lower() + line[1:] for line in quality_lines(quality))


@dataclass(frozen=True)
class ClipTiming:
    """Which frame of a video a scene frame shows, so the clip plays in sync with its take:
    the take's first frame (``frame``, where it was inserted) shows the video at the second the
    take begins (the trim and the idle lead-in the backend cut included), and the video runs at
    its own speed whatever the scene's rate. Movie frames count from 1, as Blender's do; before
    the take the first is held, after it the last."""
    frame: int      # the scene frame of the take's first key
    rate: float     # movie frames per scene frame: the clip's fps over the scene's
    base: float     # 1-based movie frame at ``frame``, plus 0.5 so that floor() rounds
    first: int      # the movie frame at the take's first frame
    last: int       # ... and at its last

    def movie_frame(self, f: float) -> int:
        return max(self.first, min(self.last, math.floor((f - self.frame) * self.rate + self.base)))

    def offset_expression(self) -> str:
        """A driver for an image user with ``frame_start`` = ``frame`` and ``frame_duration`` = 1
        (Blender shows frame 0 + offset before frame_start, 1 + offset from it). A simple
        expression: Blender evaluates it without Python, so it works with auto-run off."""
        return (f"max({self.first}, min({self.last}, floor((frame - {self.frame}) * {self.rate:.9g} + "
                f"{self.base:.9g}))) - (frame >= {self.frame})")


def clip_timing(start_s: float, clip_fps: float, scene_fps: float, frame: int, frames: int,
                movie_frames: int) -> ClipTiming:
    """The timing of a clip whose take starts ``start_s`` seconds into it, keyed from scene
    ``frame`` for ``frames`` frames at ``scene_fps``; the movie has ``movie_frames`` frames at
    ``clip_fps``. ValueError for rates or lengths that cannot be."""
    if not (clip_fps > 0 and scene_fps > 0 and math.isfinite(clip_fps) and math.isfinite(scene_fps)):
        raise ValueError(f"the clip's frame rate ({clip_fps}) and the scene's ({scene_fps}) must be positive")
    if movie_frames < 1 or frames < 1 or not (start_s >= 0):
        raise ValueError(f"a clip of {movie_frames} frames cannot show a take of {frames} frames from {start_s} s")
    rate = float(clip_fps) / float(scene_fps)
    base = float(start_s) * float(clip_fps) + 1.5   # t * C is 0-based; +1 for Blender's 1-based frames
    first = max(1, min(movie_frames, math.floor(base)))
    last = max(first, min(movie_frames, math.floor((frames - 1) * rate + base)))
    return ClipTiming(int(frame), rate, base, first, last)


REQUEST_KEYS = ("prompt", "model", "run", "seed", "steps", "guidance", "hand", "seconds", "refine")
SEED_LIMIT = 2**31   # a seed Blender's integer property (and the take's record) can hold


def stored_request(properties: Mapping[str, Value]) -> dict:
    """The ``generate`` parameters a take records (its ``signforge_*`` custom properties), for
    regenerating it or making variants; ValueError when the take was not generated (an import,
    a video) or its record lacks the prompt."""
    params = {k: properties[PREFIX + k] for k in REQUEST_KEYS if PREFIX + k in properties}
    if "prompt" not in params or "video" in {k[len(PREFIX):] for k in properties if str(k).startswith(PREFIX)}:
        raise ValueError("this take was not generated from a prompt (an import or a video): nothing to regenerate")
    params["prompt"] = str(params["prompt"])
    if params.get("hand") not in ("left", "right"):
        params.pop("hand", None)
    for key, kind in (("seed", int), ("steps", int), ("guidance", float), ("seconds", float), ("refine", float)):
        if key in params:
            try:
                params[key] = kind(params[key])
            except (TypeError, ValueError):
                raise ValueError(f"this take's recorded {key} is not a number: {params[key]!r}") from None
    return params


def new_seeds(seed: int, used, n: int = 1, rng=None) -> list[int]:
    """``n`` seeds for new takes of a request recorded with ``seed``: seed+1, seed+2...
    (or drawn by ``rng``, a ``random.Random``), skipping every seed in ``used`` (the seeds the
    same prompt's takes already have), so each new take differs from those."""
    taken, out = set(used) | {seed}, []   # type: set[int], list[int]
    candidate = seed
    while len(out) < n:
        candidate = rng.randrange(SEED_LIMIT) if rng is not None else (candidate + 1) % SEED_LIMIT
        if candidate not in taken:
            taken.add(candidate)
            out.append(candidate)
    return out
