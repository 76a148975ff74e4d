"""Side-by-side check of a reconstruction: each chosen frame of the video (or a blank
canvas for a .pose file) with the landmarks (dots) and the fitted model projected through
the estimated camera (lines), next to the fitted stick figure seen from the front.
numpy + Pillow + OpenCV; never bpy.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..atomic import atomic_path
from ..body.rig import forward
from ..body.skeleton import JOINT_INDEX as J
from ..body.skeleton import NUM_JOINTS
from ..motion.preview import BONES, _COLOURS
from .video import upright

HAND_BONES = [(0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (5, 9), (9, 10), (10, 11), (11, 12),
              (9, 13), (13, 14), (14, 15), (15, 16), (13, 17), (0, 17), (17, 18), (18, 19), (19, 20)]


def _frames(video: Path | None, indices, times, size, turn: int = 0):
    import cv2

    w, h = size
    if video is None or video.suffix.lower() == ".pose":
        return {i: Image.new("RGB", (w, h), (245, 245, 245)) for i in indices}
    cap = cv2.VideoCapture(str(video))
    cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 0)
    rot = (int(round(cap.get(cv2.CAP_PROP_ORIENTATION_META) or 0)) + turn) % 360   # + the turn the fit read
    out = {}
    for i in indices:
        cap.set(cv2.CAP_PROP_POS_MSEC, float(times[i]) * 1000.0)
        ok, frame = cap.read()
        if not ok:
            out[i] = Image.new("RGB", (w, h), (245, 245, 245))
            continue
        frame = cv2.resize(upright(frame, rot if rot in (90, 180, 270) else 0), (w, h))
        out[i] = Image.fromarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    cap.release()
    return out


def render_side_by_side(source, motion, report: dict, rest_joints, out, frames: int = 4, height: int = 360) -> Path:
    """PNG with ``frames`` rows: video frame + overlay | fitted stick figure (front view).

    ``report`` is the dict ``reconstruct(..., report=)`` filled (landmarks, projection,
    trimmed range); ``rest_joints`` is the body's (55, 3) rest skeleton for the motion's
    betas. Green circles: MediaPipe landmarks; lines: the fitted model through the camera."""
    lm, proj = report["landmarks"], report["projected"]
    a, b = report["trimmed"]
    idx = np.linspace(a, b - 1, frames).round().astype(int)
    times = lm.times
    scale = height / lm.height
    w = int(round(lm.width * scale))
    images = _frames(Path(source) if source else None, idx, times, (w, height), report.get("turn", 0))
    sheet = Image.new("RGB", (2 * w, height * frames), "white")
    draw = ImageDraw.Draw(sheet)
    _, pos = forward(motion.poses[np.clip(idx - a, 0, motion.num_frames - 1)].astype(float), rest_joints)
    centre = pos[:, J["spine3"]].mean(0)
    upper = [(p, j, side, width) for p, j, side, width in BONES if p in proj_joints() and j in proj_joints()]
    for r, f in enumerate(idx):
        top = r * height
        # the overlay is drawn on the frame itself, so parts projected outside it (a hand
        # below the picture) are cut at its edge instead of spilling onto the stick figure
        panel = images[f].copy()
        pen = ImageDraw.Draw(panel)
        xy = proj[f] * scale
        for p, j, side, width in upper:
            pen.line([tuple(xy[p]), tuple(xy[j])], fill=_COLOURS[side], width=3)
        for k, side in enumerate(("left", "right")):
            hp = xy[NUM_JOINTS + 21 * k:NUM_JOINTS + 21 * (k + 1)]
            for u, v in HAND_BONES:
                pen.line([tuple(hp[u]), tuple(hp[v])], fill=_COLOURS[side], width=1)
            seen = (lm.left if side == "left" else lm.right)[f, :, :2] * scale
            for x, y in seen[np.isfinite(seen[:, 0])]:
                pen.ellipse([x - 2, y - 2, x + 2, y + 2], outline=(0, 220, 0))
        body = lm.pose[f, 11:17, :2] * scale
        for x, y in body[np.isfinite(body[:, 0])]:
            pen.ellipse([x - 4, y - 4, x + 4, y + 4], outline=(0, 220, 0), width=2)
        sheet.paste(panel, (0, top))
        flat = (pos[r] - centre)[:, :2]
        s = height / 0.9
        pts = np.stack([w + w / 2 + flat[:, 0] * s, top + height * 0.35 - flat[:, 1] * s], -1)
        for p, j, side, width in BONES:
            draw.line([tuple(pts[p]), tuple(pts[j])], fill=_COLOURS[side], width=width)
        head = pts[J["head"]]
        rr = 0.085 * s
        draw.ellipse([head[0] - rr, head[1] - 1.6 * rr, head[0] + rr, head[1] + 0.4 * rr], outline=(60, 60, 60), width=2)
        draw.text((4, top + 4), f"frame {f} (t={times[f]:.2f}s)", fill=(255, 255, 0))
        draw.text((w + 4, top + 4), "fitted, front view", fill=(0, 0, 0))
        draw.rectangle([0, top, 2 * w - 1, top + height - 1], outline=(200, 200, 200))
    out = Path(out)
    with atomic_path(out) as tmp:
        sheet.save(tmp, format="PNG")
    return out


def proj_joints() -> set[int]:
    """Joints the fitter poses and projects (spine to wrists; fingers are drawn from the hand points)."""
    from .fit import UPPER_IDX

    return set(UPPER_IDX) | {0}
