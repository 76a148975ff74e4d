"""Side-by-side check of a reconstruction: each chosen frame of the video (or a blank
canvas for a .pose file) with the landmarks (dots) and the fitted model projected through
the estimated camera (lines), next to the fitted stick figure seen from the front and from
the side, where depth errors show (a hand meant on the face that floats in front of it);
given the body, the side view draws the head and torso's skin and each hand's gap to it.
Labels sit on a dark box, readable on any frame. numpy + Pillow + OpenCV; never bpy.
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

# the figures' scale (metres a panel's height shows) and the chest's height in the panel:
# the whole head above it and hands hanging at rest below it fit
FIGURE_SPAN, FIGURE_TOP = 1.15, 0.47
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


def label(draw: ImageDraw.ImageDraw, xy, text: str, colour=(255, 255, 255)) -> None:
    """``text`` at ``xy`` on a near-black box: readable on a bright frame and a dark one."""
    box = draw.textbbox(xy, text)
    draw.rectangle([box[0] - 2, box[1] - 2, box[2] + 2, box[3] + 2], fill=(20, 20, 20))
    draw.text(xy, text, fill=colour)


def _skin(body, poses: np.ndarray, betas) -> tuple[list, dict]:
    """The head and torso's skin vertices (per frame, (V, 3)) for ``poses`` and each hand's
    signed gap to it (``hand_gap``) in metres."""
    from ..body.collide import BODY_PARTS, hand_gap
    from ..motion import Motion

    t = len(poses)
    m = Motion(poses.astype(np.float32), np.zeros((t, 3)), np.zeros((t, 10)), 25.0, betas=betas)
    owner = body.model.lbs_weights.numpy().argmax(1)
    ids = np.flatnonzero(np.isin(owner, [J[n] for part in BODY_PARTS.values() for n in part]))
    verts = body.pose(m).vertices[:, ids]
    return list(verts), hand_gap(body, m)


def render_side_by_side(source, made, rest_joints, out, frames: int = 4, height: int = 360,
                        body=None) -> Path:
    """PNG with ``frames`` rows: video frame + overlay | fitted stick figure, front view |
    the same from the signer's left (facing right).

    ``made`` is what ``reconstruct`` returned (its motion, landmarks, projection and
    trimmed range); ``rest_joints`` is the body's (55, 3) rest skeleton for the motion's
    betas; ``body`` (optional) adds the skin and the hands' gaps to the side view. Green
    circles: MediaPipe landmarks; lines: the fitted model through the camera."""
    motion, lm, proj = made.motion, made.fitted, made.projected
    a, b = made.trimmed
    idx = np.linspace(a, b - 1, frames).round().astype(int)
    times = lm.times
    scale = height / lm.height
    w = int(round(lm.width * scale))
    images = _frames(Path(source) if source else None, idx, times, (w, height), made.turn)
    sheet = Image.new("RGB", (3 * w, height * frames), "white")
    draw = ImageDraw.Draw(sheet)
    poses = motion.poses[np.clip(idx - a, 0, motion.num_frames - 1)].astype(float)
    _, pos = forward(poses, rest_joints)
    centre = pos[:, J["spine3"]].mean(0)
    skin, gaps = _skin(body, poses, motion.betas) if body is not None else (None, None)
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
        s = height / FIGURE_SPAN
        pts = np.stack([w + w / 2 + flat[:, 0] * s, top + height * FIGURE_TOP - flat[:, 1] * s], -1)
        for p, j, side, width in BONES:
            draw.line([tuple(pts[p]), tuple(pts[j])], fill=_COLOURS[side], width=width)
        head = pts[J["head"]]
        rr = 0.085 * s
        draw.ellipse([head[0] - rr, head[1] - 1.6 * rr, head[0] + rr, head[1] + 0.4 * rr], outline=(60, 60, 60), width=2)
        _side_view(sheet, pos[r] - centre, (2 * w, top, w, height), s, None if skin is None else skin[r] - centre)
        label(draw, (4, top + 4), f"frame {f} (t={times[f]:.2f}s)", (255, 255, 0))
        label(draw, (w + 4, top + 4), "fitted, front view")
        label(draw, (2 * w + 4, top + 4), "fitted, side view (facing right)")
        if gaps is not None:
            for k, side in enumerate(("right", "left")):
                g = gaps[side][r]
                text = f"{side} hand {'inside' if g < 0 else 'to'} skin: {100 * abs(g):.1f} cm"
                label(draw, (2 * w + 4, top + height - 18 - 16 * k), text, tuple(int(c) for c in _COLOURS[side]))
        draw.rectangle([0, top, 3 * w - 1, top + height - 1], outline=(200, 200, 200))
    out = Path(out)
    with atomic_path(out) as tmp:
        sheet.save(tmp, format="PNG")
    return out


def _side_view(sheet: Image.Image, pos: np.ndarray, panel: tuple, s: float, skin: np.ndarray | None) -> None:
    """The stick figure (joints ``pos`` (55, 3) about the chest) seen from the signer's left:
    forward (+Z) to the right, up (+Y) up, drawn on its own canvas pasted into ``panel``
    (left, top, width, height) of ``sheet``, so nothing spills into the next row; the head
    and torso's skin as grey dots when given, drawn first so the arms stay on top."""
    left, top, width, height = panel
    canvas = Image.new("RGB", (width, height), "white")
    pen = ImageDraw.Draw(canvas)
    to_px = lambda p: np.stack([width / 2 + p[..., 2] * s, height * FIGURE_TOP - p[..., 1] * s], -1)  # noqa: E731
    if skin is not None:
        pen.point([tuple(q) for q in to_px(skin)[::2].tolist()], fill=(185, 185, 185))
    pts = to_px(pos)
    # the far (right) side first, the near (left) side over it
    for p, j, side, width_px in sorted(BONES, key=lambda bone: bone[2] == "left"):
        pen.line([tuple(pts[p]), tuple(pts[j])], fill=_COLOURS[side], width=width_px)
    sheet.paste(canvas, (left, top))


def proj_joints() -> set[int]:
    """Joints the fitter poses and projects (spine to wrists; fingers are drawn from the hand points)."""
    from .fit import UPPER_IDX

    return set(UPPER_IDX) | {0}
