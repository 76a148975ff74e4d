"""Any motion as MediaPipe Holistic landmarks in a pose-format ``.pose`` file, so the tools
that read ``.pose`` (pose-format's viewers, sign.mt) show a generated or imported sign.

The posed body's 3D points are put in Holistic's layout and projected through a fixed
pinhole camera in front of the signer (``Camera``). Body (33): SMPL-X's joints where
MediaPipe names one (shoulders, elbows, wrists, hips, knees, ankles), the body sites for the
nose, eyes and ears, SMPL-X's face landmarks for the eye and mouth corners, each hand's index
and pinky knuckles and thumb for the body's INDEX/PINKY/THUMB points, and the heel and toe
tip a short way along the foot from the ankle and toe joints (approximate; MediaPipe guesses
them too). Hands (21 each): the wrist, each finger's three joints (thumb: CMC, MCP, IP) and
its tip site. The 468-point face mesh has no SMPL-X counterpart and is written as not found
(confidence 0). World landmarks are the same 3D body points in MediaPipe's axes (x to the
image's right, y down, z away from the camera; metres, about the hips' midpoint).
MediaPipe's sides are the signer's own, and the camera does not mirror: the signer's left
hand is on the image's right. torch (through ``Body.pose``); never bpy.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..body.skeleton import JOINT_INDEX
from ..motion import Motion
from .pose import BODY_POINTS, HAND_POINTS, NUM_FACE, Landmarks, write_pose

# smplx's 51 face landmarks are the 68-point scheme without its 17 jaw-contour points
# (index = 68-point index - 17); 68-point 36-41 ring the signer's right eye, 42-47 the left,
# 48 and 54 are the right and left mouth corners.
_FACE_LANDMARK = {"RIGHT_EYE_OUTER": 36 - 17, "RIGHT_EYE_INNER": 39 - 17, "LEFT_EYE_INNER": 42 - 17,
                  "LEFT_EYE_OUTER": 45 - 17, "MOUTH_RIGHT": 48 - 17, "MOUTH_LEFT": 54 - 17}
_SITE = {"NOSE": "nose", "LEFT_EYE": "left_eye", "RIGHT_EYE": "right_eye", "LEFT_EAR": "left_ear",
         "RIGHT_EAR": "right_ear"}
_JOINT = {f"{s.upper()}_{mp}": f"{s}_{smplx}" for s in ("left", "right") for mp, smplx in (
    ("SHOULDER", "shoulder"), ("ELBOW", "elbow"), ("WRIST", "wrist"), ("PINKY", "pinky1"), ("INDEX", "index1"),
    ("THUMB", "thumb2"), ("HIP", "hip"), ("KNEE", "knee"), ("ANKLE", "ankle"))}
_FINGERS = {"THUMB": ("thumb", ("CMC", "MCP", "IP")), "INDEX_FINGER": ("index", ("MCP", "PIP", "DIP")),
            "MIDDLE_FINGER": ("middle", ("MCP", "PIP", "DIP")), "RING_FINGER": ("ring", ("MCP", "PIP", "DIP")),
            "PINKY": ("pinky", ("MCP", "PIP", "DIP"))}


@dataclass(frozen=True)
class Camera:
    """A fixed pinhole camera on the body's front (+Z) axis, level, looking at the chest of
    the first frame from ``distance`` metres, framing ``view`` metres of height: a signing
    video's upper-body shot."""
    width: int = 1280
    height: int = 720
    distance: float = 2.5    # m from the chest
    view: float = 1.2        # m of height the frame shows at that distance

    @property
    def focal(self) -> float:
        return self.height * self.distance / self.view   # px

    def project(self, points: np.ndarray, target: np.ndarray) -> np.ndarray:
        """(..., 3) SMPL-X points -> (..., 3) pixels: x right, y down, z as MediaPipe's
        depth (px at the image's scale, smaller is nearer), 0 at ``target``'s depth."""
        rel = np.asarray(points, np.float64) - target
        depth = self.distance - rel[..., 2]          # the camera sits at target + distance * Z
        f = self.focal
        x = self.width / 2 + f * rel[..., 0] / depth  # the signer's left (+X) is the image's right
        y = self.height / 2 - f * rel[..., 1] / depth
        return np.stack([x, y, -f * rel[..., 2] / self.distance], -1)


def holistic_points(motion: Motion, body) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """3D points (metres, SMPL-X axes) of ``motion`` on ``body`` in Holistic's layout:
    (T, 33) body, (T, 21) left hand, (T, 21) right hand."""
    posed = body.pose(motion)
    joints = posed.joints.astype(np.float64)
    sites = body.sites.as_dict(posed.vertices)
    model = body.model
    faces = body.faces[model.lmk_faces_idx.numpy()]                     # (51, 3) vertex ids
    bary = model.lmk_bary_coords.numpy().astype(np.float64)
    landmarks = np.einsum("lk,tlkd->tld", bary, posed.vertices[:, faces])  # (T, 51, 3)

    def joint(name: str) -> np.ndarray:
        return joints[:, JOINT_INDEX[name]]

    out = np.zeros((motion.num_frames, len(BODY_POINTS), 3))
    for k, name in enumerate(BODY_POINTS):
        side = name.split("_")[0].lower()
        if name in _JOINT:
            out[:, k] = joint(_JOINT[name])
        elif name in _SITE:
            out[:, k] = sites[_SITE[name]]
        elif name in _FACE_LANDMARK:
            out[:, k] = landmarks[:, _FACE_LANDMARK[name]]
        elif name.endswith("_HEEL"):     # behind the ankle, along the foot
            out[:, k] = joint(f"{side}_ankle") + 0.35 * (joint(f"{side}_ankle") - joint(f"{side}_foot"))
        elif name.endswith("_FOOT_INDEX"):   # the toes' tip, past the toe joint
            out[:, k] = joint(f"{side}_foot") + 0.5 * (joint(f"{side}_foot") - joint(f"{side}_ankle"))
        else:
            raise AssertionError(f"no SMPL-X point for MediaPipe's {name}")
    hands = []
    for side in ("left", "right"):
        hand = np.zeros((motion.num_frames, len(HAND_POINTS), 3))
        for k, name in enumerate(HAND_POINTS):
            if name == "WRIST":
                hand[:, k] = joint(f"{side}_wrist")
                continue
            finger, part = name.rsplit("_", 1)
            smplx_finger, parts = _FINGERS[finger]
            hand[:, k] = (sites[f"{side}_{smplx_finger}_tip"] if part == "TIP"
                          else joint(f"{side}_{smplx_finger}{parts.index(part) + 1}"))
        hands.append(hand)
    return out, hands[0], hands[1]


def to_landmarks(motion: Motion, body, camera: Camera | None = None) -> Landmarks:
    """``motion`` seen by ``camera``, as the landmarks MediaPipe Holistic would report."""
    camera = camera or Camera()
    pose3d, left3d, right3d = holistic_points(motion, body)
    shoulders = [BODY_POINTS.index("LEFT_SHOULDER"), BODY_POINTS.index("RIGHT_SHOULDER")]
    target = pose3d[0, shoulders].mean(0) - np.array([0.0, 0.15, 0.0])   # the chest, below the shoulders

    def image(points: np.ndarray, ref: np.ndarray) -> np.ndarray:
        px = camera.project(points, target)
        px[..., 2] -= camera.project(ref, target)[..., None, 2]   # Landmarks' depth references
        return px.astype(np.float32)

    body_px = image(pose3d, pose3d[:, shoulders].mean(1))
    left_px, right_px = image(left3d, left3d[:, 0]), image(right3d, right3d[:, 0])
    hips = pose3d[:, [BODY_POINTS.index("LEFT_HIP"), BODY_POINTS.index("RIGHT_HIP")]].mean(1)
    world = ((pose3d - hips[:, None]) * np.array([1.0, -1.0, -1.0])).astype(np.float32)
    t = motion.num_frames
    return Landmarks(pose=body_px, pose_conf=np.ones((t, len(BODY_POINTS)), np.float32), left=left_px,
                     right=right_px, face=np.full((t, NUM_FACE, 3), np.nan, np.float32), world=world,
                     width=camera.width, height=camera.height, times=np.arange(t) / motion.fps,
                     fps=float(motion.fps))


def write_holistic(motion: Motion, path: str | os.PathLike, body, camera: Camera | None = None) -> Path:
    """Write ``motion`` on ``body`` as a MediaPipe Holistic ``.pose`` file (atomically)."""
    return write_pose(to_landmarks(motion, body, camera), path)
