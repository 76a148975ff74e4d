"""A sentence and a part to regenerate, as the panel describes them. Standard library only.

The panel's Sentence list becomes the ``sentence`` request's ``items`` (``sentence_items``);
the spans a sentence result names become timeline markers (``sign_markers``); "Regenerate
Selection" turns the selected bones and the preview range into the ``edit`` request's mask
(``edit_mask``), in the take's own frames: the take goes to the backend at the rate it is keyed
at and comes back at it, so the frames and bones kept are the keys as they were, at any scene rate. Plain values in, plain values out: the Blender shell reads its properties
and calls these, and tests call them with numbers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

KINDS = (("TEXT", "Text", "A free-text description of the sign, planned and generated"),
         ("ENTRY", "Entry", "A dictionary entry id (an ASL-LEX EntryID such as castle_2)"),
         ("MOTION", "Motion", "A motion file: generated, reconstructed or imported (.npz, .npy, .bvh)"))
MOTION_SUFFIXES = (".npz", ".npy", ".bvh")
# SMPL-X joints HandMDM's features leave out (backend.body.skeleton.FEATURE_JOINTS has the rest;
# a test checks they agree): an edit keeps them as they are, so selecting them redoes nothing
NOT_GENERATED = ("pelvis", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
                 "left_foot", "right_foot", "left_eye_smplhf", "right_eye_smplhf")


@dataclass(frozen=True)
class PanelItem:
    """One row of the panel's Sentence list. ``seconds``/``transition`` 0 mean automatic."""
    kind: str
    text: str = ""
    path: str = ""
    seconds: float = 0.0
    transition: float = 0.0


def sentence_items(rows: list[PanelItem]) -> list[dict]:
    """The ``sentence`` request's items, or ``ValueError`` naming the first row that cannot be one
    (rows count from 1, as the list shows them)."""
    if not rows:
        raise ValueError("Sentence: the list is empty; add a sign with +")
    items = []
    for k, row in enumerate(rows, 1):
        where = f"Sentence item {k}"
        item: dict[str, str | float]   # what the sign is (text, entry or motion), its seconds and transition
        if row.kind == "MOTION":
            path = row.path.strip()
            if not path:
                raise ValueError(f"{where}: choose a motion file")
            if Path(path).suffix.lower() not in MOTION_SUFFIXES:
                raise ValueError(f"{where}: {Path(path).name} is not a motion file (.npz, .npy, .bvh)")
            if not Path(path).is_file():
                raise ValueError(f"{where}: {path} does not exist")
            item = {"motion": path}
        elif row.kind in ("TEXT", "ENTRY"):
            value = " ".join(row.text.split())
            if not value:
                raise ValueError(f"{where}: type a {'description' if row.kind == 'TEXT' else 'dictionary entry id'}")
            if row.kind == "ENTRY" and " " in value:
                raise ValueError(f"{where}: an entry id is one word, such as castle_2; got {value!r}")
            item = {"text" if row.kind == "TEXT" else "entry": value}
        else:
            raise ValueError(f"{where}: unknown kind {row.kind!r}")
        for name in ("seconds", "transition"):
            amount = float(getattr(row, name))
            if not math.isfinite(amount) or amount < 0:
                raise ValueError(f"{where}: {name} must be 0 (automatic) or more; got {amount!r}")
            if amount > 0:
                if name == "seconds" and row.kind != "TEXT":
                    continue   # only a text sign's length can be set; an entry's or a file's is kept
                if name == "transition" and k == 1:
                    continue   # nothing moves into the first sign
                item[name] = amount
        items.append(item)
    return items


def item_label(row: PanelItem) -> str:
    """What the list shows for a row."""
    if row.kind == "MOTION":
        return Path(row.path).name if row.path else "(no file)"
    return row.text.strip() or ("(no description)" if row.kind == "TEXT" else "(no entry id)")


def scene_frame(motion_frame: float, take_frame: int, motion_fps: float, scene_fps: float) -> int:
    """The scene frame a motion frame is keyed at, when the take's frame 0 is at ``take_frame``
    and its keys are at the scene's rate (as ``apply_motion`` keys them)."""
    return int(take_frame + round(motion_frame * scene_fps / motion_fps))


def sign_markers(spans: list[dict], take_frame: int, motion_fps: float, scene_fps: float,
                 prefix: str = "") -> list[tuple[str, int]]:
    """(name, scene frame) for each sign span: a marker at its first frame, named by its source
    ("1 text: ...", "2 entry: castle_2"), ``prefix`` before it."""
    out = []
    signs = [s for s in spans if s.get("kind") == "sign"]
    for k, span in enumerate(signs, 1):
        source = str(span.get("source", "sign")).replace("\n", " ")
        name = f"{prefix}{k} {source}"
        out.append((name[:63], scene_frame(float(span["start"]), take_frame, motion_fps, scene_fps)))
    return out


@dataclass(frozen=True)
class EditMask:
    start: int | None    # the edit request's frames: the take's own (0 at its first key); None: from its start
    end: int | None      # one past the last; None: to the take's end
    joints: str | None   # comma-separated joint names; None: every joint
    ignored: tuple[str, ...] = ()   # selected bones HandMDM does not generate (legs, root, eyes)

    def params(self) -> dict:
        return {"start": self.start, "end": self.end, "joints": self.joints}

    def describe(self) -> str:
        frames = "every frame" if self.start is None else f"frames {self.start}:{self.end} of the take"
        joints = "every joint" if self.joints is None else self.joints.replace(",", ", ")
        return f"{frames}, {joints}"


def edit_mask(take: tuple[int, int], preview: tuple[int, int] | None, bones: list[str],
              joints: list[str]) -> EditMask:
    """The ``edit`` mask from the take's scene frames [first, last] (one motion frame per scene
    frame, as ``motion_from_take`` reads it: what is sent), the preview range (scene frames,
    inclusive; None: not set) and the selected bones (those that are SMPL-X ``joints``).

    ``ValueError`` when nothing is selected, the preview range misses the take or covers too
    little of it."""
    first, last = take
    span = None
    if preview is not None:
        a, b = max(preview[0], first), min(preview[1], last)
        if a > b:
            raise ValueError(f"the preview range {preview[0]}-{preview[1]} misses the take ({first}-{last}); "
                             f"set it over the frames to redo")
        start, end = a - first, b - first + 1
        if end - start < 2:
            raise ValueError(f"the preview range {preview[0]}-{preview[1]} covers under 2 frames of the take; "
                             f"widen it")
        span = (start, end)
    smplx = [b for b in bones if b in joints]
    if bones and not smplx:
        raise ValueError("none of the selected bones is an SMPL-X joint of the SignForge armature")
    picked = [b for b in smplx if b not in NOT_GENERATED]
    ignored = tuple(b for b in smplx if b in NOT_GENERATED)
    if smplx and not picked:
        raise ValueError(f"HandMDM does not generate the selected bones ({', '.join(ignored[:3])}"
                         f"{'...' if len(ignored) > 3 else ''}: legs, root and eyes are kept); select arm, hand, "
                         f"spine, neck, head or jaw bones")
    if span is None and not picked:
        raise ValueError("Regenerate Selection needs a part to redo: select bones (pose mode) or set a preview range")
    return EditMask(span[0] if span else None, span[1] if span else None, ",".join(picked) if picked else None,
                    ignored)
