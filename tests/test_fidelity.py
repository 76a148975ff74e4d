"""Fidelity measures (backend/eval/fidelity.py) on hand-made motions with known answers, on
synthesized signs against the synthesizer's own truth, and `signforge eval fidelity` end to end."""
from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from scipy.optimize import least_squares
from typer.testing import CliRunner

from backend.body.rig import Rig
from backend.body.sites import SITE_INDEX
from backend.body.skeleton import JOINT_INDEX as J
from backend.data import handshapes as H
from backend.data.lexicon import resolve_lexicon_path
from backend.eval import fidelity as F
from backend.motion.motion import Motion

needs_lexicon = pytest.mark.skipif(not resolve_lexicon_path().exists(), reason="ASL-LEX 2.0 not found")
REST = F.hanging_arms(np.zeros((1, 55, 3)))[0]


def _sites(body, pose):
    rig = Rig.from_body(body)
    glob, pos = rig.fk(pose[None])
    return rig.sites(glob, pos)[0]


def reach(body, target, point="right_index_tip", start=REST):
    """``start`` (the rest pose) with the right shoulder turned and the elbow bent (a hinge, as
    far as 150 degrees) so that ``point`` (a site, or a joint) lies on ``target``."""
    x0 = np.r_[start[J["right_shoulder"]], start[J["right_elbow"]][1]]

    def pose_of(x):
        pose = start.copy()
        pose[J["right_shoulder"]] = x[:3]
        pose[J["right_elbow"]] = (0.0, x[3], 0.0)
        return pose

    def where(pose):
        if point in SITE_INDEX:
            return _sites(body, pose)[SITE_INDEX[point]]
        return Rig.from_body(body).fk(pose[None])[1][0, J[point]]

    def residual(x):
        return np.r_[where(pose_of(x)) - target, 0.01 * (x - x0)]

    x = least_squares(residual, x0, bounds=([-np.pi] * 3 + [0.0], [np.pi] * 3 + [2.6])).x
    assert np.linalg.norm(residual(x)[:3]) < 2e-3
    return pose_of(x)


def minimum_jerk(n):
    u = np.linspace(0.0, 1.0, n + 1)[1:]
    return 10 * u ** 3 - 15 * u ** 4 + 6 * u ** 5


def timeline(keys, start=REST):
    """From ``start``, per key (pose, frames, hold): a minimum-jerk move to the pose in
    ``frames`` frames (linear in axis-angle), then ``hold`` frames still."""
    frames, cur = [start], start
    for pose, n, hold in keys:
        frames += [cur + (pose - cur) * s for s in minimum_jerk(n)] + [pose] * hold
        cur = pose
    return motion_of(np.stack(frames))


def motion_of(poses):
    """A 25 fps motion of these (T, 55, 3) poses, nothing else moving."""
    return Motion(poses, np.zeros((len(poses), 3)), np.zeros((len(poses), 10)), 25.0)


@pytest.fixture(scope="module")
def chin(body):
    return _sites(body, REST)[SITE_INDEX["chin"]]


@pytest.fixture(scope="module")
def poses(body, chin):
    """The right index fingertip on the chin, 6 cm and 8 cm in front of it."""
    return {"on": reach(body, chin + [0, 0, 0.004]), "front": reach(body, chin + [0, 0, 0.06]),
            "far": reach(body, chin + [0, 0, 0.08])}


def test_a_motion_at_rest_signs_nothing(body):
    m = timeline([(REST, 1, 30)])
    assert F.signing_hands(m, body, "right") == "none"
    assert F.idle_distance(m, body, "left") < 1e-6 and F.idle_distance(m, body, "right") < 1e-6
    assert F.sign_window(m, body, "right") == (0, m.num_frames)
    assert F.movement(m, body, "right") == F.Movement("none", "none", 0)
    assert F.peak_speed(m, body) < 1e-6 and F.fast_steps(m, body) == (0, m.num_frames - 1)


def test_a_hand_on_the_chin_is_at_the_mouth_and_touches_it(body, poses):
    m = timeline([(REST, 1, 4), (poses["on"], 12, 20), (REST, 12, 5)])
    t0, t1 = F.sign_window(m, body, "right")
    assert abs(t0 - 17) <= 1 and abs(t1 - 37) <= 1          # the 20-frame hold, not the approach or return
    assert F.place(m, body, "right") == "mouth/chin"
    assert F.contacts(m, body, "right") == frozenset({"mouth/chin"})
    assert F.signing_hands(m, body, "right") == "dominant"
    assert F.signing_hands(m, body, "left") == "non-dominant"   # a left-handed text signed with the right
    assert F.movement(m, body, "right").path == "none"
    assert F.hold_length(m, body, "right") == pytest.approx(20 / 25, abs=0.08)


def test_a_stroke_that_ends_near_rest_is_in_the_sign(body, poses):
    """A drop from the chin to the belly, held there before the return: the window runs to the
    end of the hold at the belly, under half the hand's largest distance from rest (it had
    ended at the chin, and read the drop as no movement)."""
    belly = _sites(body, REST)[SITE_INDEX["stomach"]]
    low = reach(body, belly + [0, 0, 0.05])
    m = timeline([(REST, 1, 4), (poses["front"], 12, 8), (low, 14, 8), (REST, 12, 5)])
    t0, t1 = F.sign_window(m, body, "right")
    assert abs(t0 - 17) <= 1 and abs(t1 - 47) <= 2
    assert F.movement(m, body, "right").direction == "down"


def test_a_hand_in_front_of_the_chin_does_not_touch(body, poses):
    on = timeline([(REST, 1, 4), (poses["on"], 12, 20), (REST, 12, 5)])
    far = timeline([(REST, 1, 4), (poses["far"], 12, 20), (REST, 12, 5)])
    assert F.contacts(far, body, "right") == frozenset()
    gap = np.linalg.norm(F.place_point(on, body, "right") - F.place_point(far, body, "right"))
    assert 0.05 < gap < 0.10                                 # the fingertip moved 7.6 cm


def test_a_fist_touches_with_its_knuckles_and_a_fingertip_on_the_other_hands_fingers_touches_it(body):
    """A fist knocks with its middle knuckles (the hand's palm, back and tip sites stay off the
    chest), and the other hand's fingers are touched between their tips and the palm too."""
    fist = REST.copy()
    fist[list(range(J["right_index1"], J["right_index1"] + 15))] = H.hand_pose("a", "right")
    chest = _sites(body, REST)[SITE_INDEX["chest"]]
    on_chest = reach(body, chest + [0, 0, 0.012], "right_middle2", fist)
    knock = timeline([(REST, 1, 4), (on_chest, 12, 10), (REST, 12, 5)])
    t0, t1 = F.sign_window(knock, body, "right")
    assert np.linalg.norm(F.hand_points(knock, body, "right")[t0:t1] - chest, axis=-1).min() > F.TOUCH
    assert F.contacts(knock, body, "right") == frozenset({"chest"})
    # the left fist held out in front (the knock, mirrored and 8 cm out), the right fingertip on its knuckle
    held = motion_of(reach(body, chest + [0, 0, 0.08], "right_middle2", fist)[None]).mirror().poses[0]
    knuckle = Rig.from_body(body).fk(held[None])[1][0, J["left_middle2"]]
    both = reach(body, knuckle + [0, 0, 0.012])
    left = [J[f"left_{n}"] for n in ("collar", "shoulder", "elbow", "wrist")] + list(range(J["left_index1"], J["left_index1"] + 15))
    both[left] = held[left]
    pair = timeline([(REST, 1, 4), (both, 12, 10), (REST, 12, 5)])
    assert "other hand" in F.contacts(pair, body, "right")


def test_three_taps_are_three_strokes(body, poses):
    taps = [(poses["on"], 6, 2), (poses["front"], 6, 2)] * 3
    m = timeline([(REST, 1, 4), (poses["front"], 12, 5)] + taps + [(REST, 12, 5)])
    move = F.movement(m, body, "right")
    assert move.strokes == 3 and move.path in ("straight", "arc")
    assert F.contacts(m, body, "right") == frozenset({"mouth/chin"})
    one = timeline([(REST, 1, 4), (poses["front"], 12, 5), (poses["on"], 6, 2), (poses["front"], 6, 5),
                    (REST, 12, 5)])
    assert F.movement(one, body, "right").strokes == 1


def test_a_circle_is_a_circle(body, poses):
    front = poses["front"]
    loop = []
    for a in np.linspace(0, 2 * np.pi, 30):
        p = front.copy()
        p[J["right_shoulder"]] += 0.15 * np.array([np.cos(a) - 1, np.sin(a), 0.0])
        loop.append(p)
    approach = timeline([(REST, 1, 4), (front, 12, 4)])
    back = timeline([(REST, 12, 4)], start=front)
    m = motion_of(np.concatenate([approach.poses, np.stack(loop), back.poses]))
    assert F.movement(m, body, "right") == F.Movement("circle", "circle", 1)


def test_a_straight_line_is_straight_and_has_its_direction(body, chin):
    target = chin + [0.0, -0.25, 0.30]           # in front of the chest, then 20 cm to the signer's left
    line = [reach(body, target + [0.2 * s, 0, 0]) for s in minimum_jerk(12)]
    start = reach(body, target)
    lead = timeline([(REST, 1, 4), (start, 12, 5)])
    tail = timeline([(line[-1], 1, 5), (REST, 12, 4)], start=line[-1])
    m = motion_of(np.concatenate([lead.poses, np.stack(line), tail.poses]))
    assert F.movement(m, body, "right") == F.Movement("straight", "left", 1)


@pytest.mark.parametrize("bow, path", [(0.0, "straight"), (0.08, "arc")])
def test_a_bowed_stroke_is_an_arc_to_the_evaluation_and_to_the_cues_the_texts_are_said_from(body, chin, bow, path):
    """One measure (HandMotionScript's ``path_shape``) gives the fidelity row's path type and
    the cue from which a text says "in an arc": a 20 cm stroke that rises 8 cm midway arcs."""
    from backend.data.hms import HMS

    target = chin + [0.0, -0.25, 0.30]
    stroke = [reach(body, target + [0.2 * s, bow * math.sin(math.pi * s), 0]) for s in minimum_jerk(12)]
    lead = timeline([(REST, 1, 4), (reach(body, target), 12, 5)])
    tail = timeline([(stroke[-1], 1, 5), (REST, 12, 4)], start=stroke[-1])
    m = motion_of(np.concatenate([lead.poses, np.stack(stroke), tail.poses]))
    assert F.movement(m, body, "right").path == path
    window = (lead.num_frames - 3, lead.num_frames + len(stroke) + 3)
    assert HMS(body).measure(m, window).hands["right"].path == path


def test_the_idle_hand_within_5_cm_of_rest_and_out_of_it(body, poses):
    still = timeline([(REST, 1, 4), (poses["on"], 12, 20), (REST, 12, 5)])
    assert F.idle_distance(still, body, "left") < 1e-6
    drifted = REST.copy()
    drifted[J["left_shoulder"]] += (0.0, 0.0, 0.12)        # the left arm lifts a little, about 6 cm
    both = np.where(np.arange(55)[:, None] == J["left_shoulder"], drifted, poses["on"])
    m = timeline([(REST, 1, 4), (both, 12, 20), (REST, 12, 5)])
    assert F.IDLE < F.idle_distance(m, body, "left") < F.SIGNING
    assert F.signing_hands(m, body, "right") == "dominant"   # strayed, but not signing


def test_a_bell_shaped_move_is_slow_and_smooth_and_a_snap_is_not(body, poses):
    bell = timeline([(REST, 1, 4), (poses["front"], 15, 10), (REST, 15, 5)])
    snap = timeline([(REST, 1, 4), (poses["front"], 2, 10), (REST, 2, 5)])
    assert F.peak_speed(bell, body) < 3.0 < F.FAST < F.peak_speed(snap, body)
    assert F.fast_steps(bell, body)[0] == 0 and F.fast_steps(snap, body)[0] >= 2
    assert F.jerk(snap, body, "right") > 10 * F.jerk(bell, body, "right")
    assert F.largest_jump(snap, body) > 3 * F.largest_jump(bell, body)


def test_the_nearest_handshape_is_the_one_posed(body, poses):
    for name in ("s", "5", "1", "y"):
        pose = poses["front"].copy()
        pose[list(range(J["right_index1"], J["right_index1"] + 15))] = H.hand_pose(name, "right")
        m = timeline([(REST, 1, 4), (pose, 12, 15), (REST, 12, 4)])
        assert F.handshape(m, body, "right") == name
        assert H.nearest_handshape(m.poses[20:30], "right") == (name, pytest.approx(0.0, abs=1e-3))


def test_compare_and_bootstrap(body, poses):
    from training.fidelity import Sample, _ratio_estimate, agreement_rows, compare, kinematic_rows

    on = F.describe(timeline([(REST, 1, 4), (poses["on"], 12, 20), (REST, 12, 5)]), body, "right")
    far = F.describe(timeline([(REST, 1, 4), (poses["far"], 12, 20), (REST, 12, 5)]), body, "right")
    same = compare(on, on)
    assert all(num == den for name, (num, den) in same.items() if "distance" not in name)
    other = compare(on, far)
    assert other["contact: touches, recall"] == (0.0, 1.0) and other["contact: touches, precision"][1] == 0
    assert other["hands: which hands sign"] == (1.0, 1.0)
    from training.fidelity import shape_class

    assert shape_class("open_b") == shape_class("flat_b") == "flat" and shape_class("s") == "fist"
    assert shape_class("curved_l") == "curved_l"          # no everyday name: its own class
    num = np.array([[1, 0], [1, 1], [0, 0], [1, 1]], float)
    est = _ratio_estimate(num, np.ones_like(num), np.random.default_rng(0))
    assert est.value == pytest.approx(5 / 8) and est.low <= est.value <= est.high
    assert (est.seed_min, est.seed_max) == (0.5, 0.75)
    # texts without a ceiling (a reconstructed dataset has no entry to sign again) and without
    # one-handed ground truths still give every row, the ceiling's as n/a
    two = F.describe(timeline([(REST, 1, 4), (poses["on"], 12, 20), (REST, 12, 5)]), body, "left")
    samples = [Sample({}, "a prompt", two, generated=[on, far]), Sample({}, "another", two, generated=[far, far])]
    rows = {r["row"]: r for r in agreement_rows(samples)}
    assert rows["hands: which hands sign"]["generated"].value == 0.0          # asked left, signed right
    assert math.isnan(rows["place: region"]["ceiling"].value) and math.isnan(rows["place: region"]["ratio"])
    kin = {r["row"]: r for r in kinematic_rows(samples)}
    assert math.isnan(kin["idle wrist's farthest distance from rest (one-handed texts), cm"]["generated"][0].value)
    assert kin["peak wrist speed, m/s"]["generated"][0].count == 4
    # the rows again by kind of sign: a plain sign signed right, a compound that misses its touch
    from training.fidelity import _by_kind_table

    kinds = [Sample({}, "plain", on, generated=[on, on], ceiling=[on, on], kind="plain"),
             Sample({}, "compound", on, generated=[far, far], ceiling=[on, on], kind="compound")]
    table = _by_kind_table(kinds, 0)
    assert "| row | plain (1 texts) | compound (1 texts) |" in table
    where = next(line for line in table if line.startswith("| contact: where, recall |"))
    assert where == "| contact: where, recall | 1.00 / 1.00 = 1.00 | 0.00 / 1.00 = 0.00 |"
    assert _by_kind_table(kinds[:1], 0) == []             # one kind: the main table says it all


@needs_lexicon
def test_the_sign_window_and_measures_agree_with_the_synthesizer(body):
    """On synthesized signs, the window found on the motion alone is the synthesizer's sign
    (within 2 frames), a one-handed sign's idle hand is at rest, and contact signs touch."""
    from backend.data.lexicon import read_lexicon
    from backend.data.synth import Signer, Synthesizer

    lex = read_lexicon()
    synth = Synthesizer(body)
    rng = np.random.default_rng(5)
    entries = [lex.entries[i] for i in rng.choice(len(lex.entries), 40, replace=False)]
    signers = [Signer.sample(i) for i in range(len(entries))]
    signed = synth.synthesize_many(list(zip(entries, signers)))
    close, one_handed, touched = [], [], []
    for signer, (motion, truth) in zip(signers, signed):
        side = "left" if signer.left_handed else "right"
        t0, t1 = F.sign_window(motion, body, side)
        close.append(abs(t0 - truth.sign_frames[0]) <= 2 and abs(t1 - truth.sign_frames[1]) <= 2)
        f = F.describe(motion, body, side)
        if f.hands == "dominant":
            one_handed.append(f.idle < F.IDLE)
        if (truth.contact.get(side) or (None, False))[1]:   # the synthesizer touched a site
            touched.append(bool(f.contacts))
    assert np.mean(close) >= 0.85
    assert one_handed and all(one_handed)
    assert not touched or np.mean(touched) >= 0.7


@needs_lexicon
def test_cli_writes_the_fidelity_report(tmp_path):
    from backend.cli import app
    from backend.data.dataset import BuildConfig, build

    data = tmp_path / "ds"
    build(BuildConfig(out=str(data), samples=40, seed=0, workers=1, shard_size=40, word_sets=()))
    # a paraphrase text on the test records: the report gets a section for it
    shard = data / "shard-00000.jsonl"
    records = [json.loads(line) for line in shard.read_text().splitlines()]
    for r in records:
        r["texts"]["paraphrase"] = ["the signer's right hand rises and holds"]
    # texts written from another variant of the word than the one signed describe another
    # motion: every test_unseen record but one is left out
    unseen = [r for r in records if r["split"] == "test_unseen"]
    assert len(unseen) >= 2
    for r in unseen[1:]:
        r["assigned"] = r["entry"] + "_another_variant"
    shard.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records))
    out = tmp_path / "report.md"
    result = CliRunner().invoke(app, ["eval", "fidelity", "--data", str(data), "--seeds", "2", "--limit", "2",
                                      "--steps", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text.startswith("# HandMDM fidelity")
    made = re.search(r"Made by: `(.*)`", text).group(1)
    assert made == "signforge eval fidelity --data DATA --seeds 2 --limit 2 --steps 3 --out OUT"
    assert str(tmp_path) not in text
    for section in ("## test_seen", "## test_unseen", "## test_seen (paraphrase)", "## test_unseen (paraphrase)"):
        assert f"\n{section}\n" in text
    block = text.split("## test_unseen\n")[1].split("\n## ")[0]
    assert "1 texts x 2 seeds; 1 texts with a ceiling" in block
    assert "2 texts x 2 seeds; 2 texts with a ceiling" in text.split("## test_seen\n")[1].split("\n## ")[0]
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ") for line in block.splitlines()
            if line.startswith("| ") and not line.startswith("| row") and not line.startswith("| kinematics")}
    assert rows["hands: which hands sign"][3].startswith("1.00")     # the ceiling: the same entry signs alike
    for name in ("hands: which hands sign", "place: region", "movement: strokes", "handshape: top-1"):
        value, low, high = map(float, re.match(r"([\d.]+) \[([\d.]+), ([\d.]+)\]", rows[name][1]).groups())
        assert 0 <= low <= value <= high <= 1
        ratio = rows[name][4].strip(" |")
        assert ratio == "n/a" or math.isfinite(float(ratio))
    gap = text.split("## Paraphrase gap\n")[1].split("\n## ")[0]   # each split against its paraphrases
    assert "| row | test_seen: own / paraphrase / gap | test_unseen: own / paraphrase / gap |" in gap
    shape = next(line for line in gap.splitlines() if line.startswith("| handshape: top-1 |"))
    for own, para, points in re.findall(r"([\d.]+) / ([\d.]+) / ([+-][\d.]+)", shape):
        assert abs(100 * (float(own) - float(para)) - float(points)) < 0.1
    peak = re.match(r"([\d.]+)", rows["peak wrist speed, m/s"][3]).group(1)
    assert 0.5 < float(peak) < 6.0                                  # the dataset's median peak wrist speed
    bad = CliRunner().invoke(app, ["eval", "fidelity", "--data", str(tmp_path / "none"), "--out", str(out)])
    assert bad.exit_code == 2 and "not a SignForge dataset" in " ".join(bad.output.split())


def test_ablation_table_reads_the_shipped_reports_side_by_side(tmp_path):
    from training.ablation import ReportError, read_report, write_ablations

    base = read_report("reports/handmdm-fidelity.md")
    assert {"test_seen", "test_unseen"} <= set(base)
    assert float(base["test_unseen"]["movement: strokes"]) > 0
    assert float(base["test_unseen"]["peak wrist speed, m/s"]) > 0
    out = write_ablations([("reports/handmdm-fidelity-small.md", "small"), ("reports/handmdm-fidelity.md", "base")],
                          tmp_path / "abl.md", "cmd")
    text = out.read_text()
    small = read_report("reports/handmdm-fidelity-small.md")
    row = f"| movement: strokes | {small['test_unseen']['movement: strokes']} | {base['test_unseen']['movement: strokes']} |"
    assert "## test_unseen" in text and row in text
    (tmp_path / "x.md").write_text("# something else\n")
    with pytest.raises(ReportError, match="not a fidelity report"):
        read_report(tmp_path / "x.md")
