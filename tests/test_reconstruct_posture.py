"""Issue 17 on the shared .pose file (real MediaPipe, no world landmarks, the left hand never
found): the never-found hand stays out of the skin, as the side view of ``signforge
reconstruct mediapipe.pose --preview`` showed it did not.
"""
from __future__ import annotations

import numpy as np
import pytest

from conftest import shared_data

POSE = shared_data().pose
needs_pose = pytest.mark.skipif(not POSE.exists(), reason=f"{POSE} not found")


@pytest.fixture(scope="module")
def shared_fit():
    """The shared .pose file's body, landmarks, fit and the fit's joints (T, 55, 3)."""
    from backend.body.model import Body
    from backend.body.rig import Rig
    from backend.io.pose import read_pose
    from backend.reconstruct.fit import Fitter

    body = Body.load()
    lm = read_pose(POSE)
    result = Fitter(body).fit(lm)
    _, pos = Rig.from_body(body, result.betas).fk(result.poses.astype(float))
    return body, lm, result, pos


@needs_pose
def test_a_hand_never_found_stays_out_of_the_skin(shared_fit):
    """The file's left hand is never found: it has no data term, and before its guard it hung
    up to 5.2 cm inside the belly at rest (the fit's own skin test also counted a point over
    3 cm deep as outside). Now every point of it stays outside the head and torso's skin,
    as the viewer's ``hand_gap`` measures it, in every frame."""
    from backend.body.collide import hand_gap
    from backend.motion import Motion

    body, lm, result, _ = shared_fit
    assert not lm.hand_found("left").any() and lm.hand_found("right").any()
    t = len(result.poses)
    gaps = hand_gap(body, Motion(result.poses, np.zeros((t, 3)), np.zeros((t, 10)), lm.fps, betas=result.betas))
    assert gaps["left"].min() >= 0.0, 100 * gaps["left"].min()
