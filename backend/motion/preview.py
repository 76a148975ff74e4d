"""Contact sheets of stick figures (with fingers) for eyes-on checks of motions.

Each row is one motion seen from one viewpoint (front, side, three-quarter); columns are
evenly spaced frames. Joints come from forward kinematics on the motion's own body
proportions. numpy + Pillow; never bpy.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..atomic import atomic_path
from ..body.rig import forward
from ..body.skeleton import JOINT_INDEX as J
from ..body.skeleton import JOINT_NAMES, PARENTS
from .motion import Motion

VIEWS = {"front": 0.0, "side": 90.0, "three-quarter": 35.0}
_SKIP = {"left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
         "left_foot", "right_foot", "left_eye_smplhf", "right_eye_smplhf", "jaw"}
_COLOURS = {"left": (40, 110, 220), "right": (220, 70, 50), "centre": (60, 60, 60)}


def _side(name: str) -> str:
    return "left" if name.startswith("left_") else "right" if name.startswith("right_") else "centre"


def _bones() -> list[tuple[int, int, str, int]]:
    out = []
    for j, p in enumerate(PARENTS):
        name = JOINT_NAMES[j]
        if p < 0 or name in _SKIP:
            continue
        finger = any(f in name for f in ("index", "middle", "ring", "pinky", "thumb"))
        out.append((p, j, _side(name), 2 if finger else 5))
    return out


BONES = _bones()


def _project(points: np.ndarray, yaw_deg: float) -> np.ndarray:
    """Orthographic view from the front, turned ``yaw_deg`` about the vertical axis."""
    a = np.radians(yaw_deg)
    x = points[..., 0] * np.cos(a) + points[..., 2] * np.sin(a)
    return np.stack([x, points[..., 1]], -1)


def render_sheet(motions: list[Motion], rest_joints_for, out: str | Path, frames: int = 6,
                 views=("front", "side", "three-quarter"), cell: int = 220,
                 labels: list[str] | None = None) -> Path:
    """Write a PNG contact sheet; ``rest_joints_for(betas)`` gives a (55, 3) rest skeleton."""
    if not motions:
        raise ValueError("nothing to preview: no motions given")
    for v in views:
        if v not in VIEWS:
            raise ValueError(f"unknown view {v!r}; choose from {sorted(VIEWS)}")
    label_w = 150
    sheet = Image.new("RGB", (label_w + cell * frames, cell * len(views) * len(motions)), "white")
    draw = ImageDraw.Draw(sheet)
    for m_i, motion in enumerate(motions):
        idx = np.linspace(0, motion.num_frames - 1, frames).round().astype(int)
        _, pos = forward(motion.poses[idx].astype(float), rest_joints_for(motion.betas))
        pos = pos + motion.trans[idx, None, :]
        centre = pos[:, J["spine3"]].mean(0)
        for v_i, view in enumerate(views):
            top = (m_i * len(views) + v_i) * cell
            text = (labels[m_i] if labels else motion.text or f"motion {m_i}")[:40]
            draw.text((6, top + 6), text, fill=(0, 0, 0))
            draw.text((6, top + 22), view, fill=(90, 90, 90))
            flat = _project(pos - centre, VIEWS[view])
            for c, f in enumerate(idx):
                ox, oy = label_w + c * cell + cell / 2, top + cell * 0.42
                scale = cell / 0.95
                xy = np.stack([ox + flat[c, :, 0] * scale, oy - flat[c, :, 1] * scale], -1)
                if view == "side":
                    xy[:, 0] = ox - flat[c, :, 0] * scale
                head = xy[J["head"]]
                r = 0.085 * scale
                draw.ellipse([head[0] - r, head[1] - 1.6 * r, head[0] + r, head[1] + 0.4 * r],
                             outline=(60, 60, 60), width=2)
                for p, j, side, width in BONES:
                    draw.line([tuple(xy[p]), tuple(xy[j])], fill=_COLOURS[side], width=width)
                draw.text((ox - cell / 2 + 4, top + cell - 16), f"frame {f}", fill=(120, 120, 120))
                draw.rectangle([ox - cell / 2, top, ox + cell / 2 - 1, top + cell - 1], outline=(220, 220, 220))
    out = Path(out)
    with atomic_path(out) as tmp:
        sheet.save(tmp, format="PNG")
    return out
