"""The data factory on the real ASL-LEX 2.0 lexicon: coverage, synthesis, HMS, text, datasets."""
from __future__ import annotations

import collections
import json
import re
import subprocess
import sys

import numpy as np
import pytest

from backend.body.rig import Rig
from backend.body.skeleton import JOINT_INDEX as J
from backend.data import handshapes as H
from backend.data.lexicon import LexiconError, read_lexicon, resolve_lexicon_path

LEXICON = resolve_lexicon_path()
needs_lexicon = pytest.mark.skipif(not LEXICON.exists(),
                                   reason=f"ASL-LEX 2.0 not found at {LEXICON} (set SIGNFORGE_LEXICON)")


@pytest.fixture(scope="module")
def lex():
    return read_lexicon()


@pytest.fixture(scope="module")
def synth(body):
    from backend.data.synth import Synthesizer

    return Synthesizer(body)


@pytest.fixture(scope="module")
def hms(body):
    from backend.data.hms import HMS

    return HMS(body)


def _pick(lex, n, seed, where=lambda e: True):
    pool = [i for i, e in enumerate(lex.entries) if where(e)]
    return [int(i) for i in np.random.default_rng(seed).choice(pool, n, replace=False)]


@pytest.fixture(scope="module")
def samples(lex, synth):
    """200 random entries, each signed by its own seeded signer (some left-handed)."""
    out = []
    for i in _pick(lex, 200, 11):
        motion, truth = synth.synthesize(lex.entries[i], i)
        out.append((lex.entries[i], motion, truth))
    return out


# ------------------------------------------------------------------ lexicon and coverage

@needs_lexicon
def test_coverage_maps_every_value_and_signs_at_least_95_percent(lex):
    from backend.data.coverage import coverage

    cov = coverage(lex)
    print(f"\n{cov.signed}/{cov.entries} entries synthesized; not: {cov.not_signed[:5]}")
    assert cov.entries == 2723
    assert cov.fraction >= 0.95
    assert cov.unknown_values() == []
    assert len(cov.values["Handshape"]) >= 58 and len(cov.values["MinorLocation"]) >= 37
    assert {"Straight", "Curved", "Circular", "BackAndForth", "Z-shaped", "X-shaped", "Other", "None"} \
        <= set(cov.values["Movement"])
    # every entry that is not signed is listed with its reason
    assert all(reason for _, reason in cov.not_signed)


@needs_lexicon
def test_castle_has_four_variants(lex):
    cands = lex.word_candidates()
    assert len(cands["castle"]) == 4
    assert 700 <= sum(2 <= len(v) <= 10 for v in cands.values()) <= 900


def _write_csv(path, header, rows):
    path.write_text("\n".join([",".join(header)] + [",".join(r) for r in rows]) + "\n", encoding="latin-1")
    return path


@needs_lexicon
def test_bad_lexicon_files_get_clear_errors(tmp_path):
    with pytest.raises(LexiconError, match="empty"):
        read_lexicon(_write_csv(tmp_path / "empty.csv", [], []))
    with pytest.raises(LexiconError, match="missing columns.*Handshape"):
        read_lexicon(_write_csv(tmp_path / "cols.csv", ["EntryID", "LemmaID"], [["a", "a"]]))
    with pytest.raises(LexiconError, match="no such file"):
        read_lexicon(tmp_path / "absent.csv")


@needs_lexicon
def test_unknown_values_are_reported_not_crashed(tmp_path, lex):
    from backend.data.coverage import coverage

    import csv
    import io

    reader = csv.DictReader(io.StringIO(LEXICON.read_bytes().decode("latin-1")))
    rows = [next(reader) for _ in range(3)]
    rows[0]["Handshape.2.0"] = "banana"
    rows[1]["MinorLocation.2.0"] = "Knee"
    buf = io.StringIO()
    writer = csv.DictWriter(buf, reader.fieldnames)
    writer.writeheader()
    writer.writerows(rows)
    path = tmp_path / "odd.csv"
    path.write_bytes(buf.getvalue().encode("latin-1"))
    cov = coverage(read_lexicon(path))
    assert cov.signed == 1
    reasons = dict(cov.not_signed)
    assert "banana" in reasons[rows[0]["EntryID"]] and "Knee" in reasons[rows[1]["EntryID"]]
    assert ("Handshape", "banana", 1) in cov.unknown_values()


# ------------------------------------------------------------------ handshapes

def test_handshapes_are_within_limits_and_do_not_interpenetrate():
    # the lexicon's 58 codes (+ curved_b, lax, n) and the planner's everyday shapes
    assert len([n for n in H.HANDSHAPES if n not in ("curved_b", "lax", "n", *H.EVERYDAY_SHAPES)]) == 58
    assert all(code in H.HANDSHAPES for code in H.EVERYDAY_SHAPES.values())
    worst = []
    for (name, spread), pose in H._all_poses().items():
        angles = np.linalg.norm(pose, axis=1)
        assert angles.max() < 1.9, name          # no joint past ~110 degrees
        worst.append((H.penetration(pose), name))
    worst.sort(reverse=True)
    print(f"\ndeepest finger overlap: {worst[0][0] * 1000:.1f} mm ({worst[0][1]})")
    assert worst[0][0] < 0.007                    # capsules of ~8-10 mm radius: under 7 mm overlap


def test_mirrored_hand_is_the_same_shape():
    left = H.hand_pose("s", "left")
    right = H.hand_pose("s", "right")
    assert np.allclose(np.linalg.norm(left, axis=1), np.linalg.norm(right, axis=1))
    assert not np.allclose(left, right)


# ------------------------------------------------------------------ synthesis

@needs_lexicon
def test_contact_signs_touch_their_target_within_1cm(lex, synth, body):
    """200 random entries with Contact=1: hand contact point vs target, by forward kinematics."""
    dist = []
    for i in _pick(lex, 200, 3, lambda e: e.phonology.has_contact):
        motion, truth = synth.synthesize(lex.entries[i], i)
        for side, tg in truth.targets.items():
            if not tg["contact"]:
                continue   # contact with the other hand in neutral space: no body site
            glob, pos = Rig.from_body(body, motion.betas).fk(motion.poses[tg["frame"]:tg["frame"] + 1])
            wr = J[f"{side}_wrist"]
            point = pos[0, wr] + glob[0, wr] @ tg["offset"]
            dist.append(np.linalg.norm(point - tg["point"]))
    dist = np.array(dist)
    print(f"\ncontact: n={len(dist)} median {np.median(dist) * 1000:.1f} mm, "
          f"within 1 cm {np.mean(dist < 0.01):.1%}, max {dist.max() * 100:.1f} cm")
    assert len(dist) >= 120
    assert np.mean(dist < 0.01) >= 0.95
    assert np.median(dist) < 0.003


@needs_lexicon
def test_motions_are_short_smooth_and_within_joint_limits(samples):
    from backend.data.synth import ELBOW_MAX, FPS, MAX_SECONDS

    worst_jump = 0.0
    for entry, motion, _ in samples:
        assert motion.fps == FPS and motion.duration <= MAX_SECONDS + 1e-6
        q = motion.rotations("quaternion").astype(float)
        vel = 2 * np.arccos(np.clip(np.abs((q[1:] * q[:-1]).sum(-1)), 0, 1))   # rad per frame
        worst_jump = max(worst_jump, float(np.abs(np.diff(vel, axis=0)).max()))
        angles = np.linalg.norm(motion.poses, axis=-1)
        for side in ("left", "right"):
            assert angles[:, J[f"{side}_elbow"]].max() <= ELBOW_MAX + 0.05, entry.entry_id
            assert angles[:, J[f"{side}_shoulder"]].max() <= 2.9, entry.entry_id
            assert angles[:, J[f"{side}_wrist"]].max() <= 2.1, entry.entry_id
        assert angles[:, 25:].max() < 2.0
        # starts and ends at rest: the same pose at both ends
        assert np.allclose(motion.poses[0], motion.poses[-1], atol=1e-4)
    print(f"\nlargest change of joint speed between frames: {worst_jump:.3f} rad/frame")
    assert worst_jump < 0.35


@needs_lexicon
def test_same_seed_same_motion_and_left_handers_are_mirrored(lex, synth):
    from backend.data.synth import Signer

    entry = lex.by_id()["castle_2"]
    a, _ = synth.synthesize(entry, Signer.sample(5, left_handed=False))
    b, _ = synth.synthesize(entry, Signer.sample(5, left_handed=False))
    assert np.array_equal(a.poses, b.poses)
    c, truth = synth.synthesize(entry, Signer.sample(5, left_handed=True))
    assert np.allclose(c.poses, a.mirror().poses)
    assert c.provenance["mirrored"] == "true"
    d, _ = synth.synthesize(entry, Signer.sample(6, left_handed=False))
    assert not np.array_equal(a.poses, d.poses)


# ------------------------------------------------------------------ HMS

@needs_lexicon
def test_hms_agrees_with_the_synthesizer_truth(samples, hms):
    ok, total = collections.Counter(), collections.Counter()
    for entry, motion, truth in samples:
        cues = hms.measure(motion, truth.sign_frames)
        for side in truth.palm:
            h = cues.hands[side]
            if truth.contact.get(side):
                site, touched = truth.contact[side]
                total["contact"] += 1
                ok["contact"] += f"{'touch' if touched else 'near'} {site}" in h.touch
            total["palm"] += 1
            ok["palm"] += bool(h.palm) and h.palm[0] == truth.palm[side][0]
            if truth.strokes.get(side):
                total["moves"] += 1
                ok["moves"] += bool(h.moves) and h.moves[0] == truth.strokes[side][0]
            if truth.fingers[side][0] != "mixed":
                total["fingers"] += 1
                ok["fingers"] += bool(h.fingers) and h.fingers[0] == truth.fingers[side][0]
    rates = {k: ok[k] / total[k] for k in total}
    overall = sum(ok.values()) / sum(total.values())
    print(f"\nHMS agreement {overall:.1%}: " + ", ".join(f"{k} {v:.1%} of {total[k]}" for k, v in rates.items()))
    assert overall >= 0.90
    assert min(rates.values()) >= 0.7


def test_hms_reads_any_motion(hms):
    from backend.motion.builtin import wave

    cues = hms.measure(wave())
    right, left = cues.hands["right"], cues.hands["left"]
    assert right.active and not left.active
    assert {"left", "right"} & set(right.moves)        # the wave goes side to side
    assert right.fingers == ["open"]
    with pytest.raises(ValueError, match="window"):
        hms.measure(wave(), (5, 10_000))


# ------------------------------------------------------------------ text

@needs_lexicon
def test_free_text_never_names_the_sign(samples, hms, lex):
    from backend.data.text import forbidden_words, leaks, texts_for

    rng = np.random.default_rng(0)
    written = 0
    for entry, motion, truth in samples:
        cues = hms.measure(motion, truth.sign_frames)
        side = "left" if motion.provenance.get("mirrored") == "true" else "right"
        texts = texts_for(entry, cues, side, rng, 3, word=entry.lemma_word)
        assert texts["gloss"] == entry.lemma_word
        assert "Handshape: " in texts["phonology"] and "MinorLocation: " in texts["phonology"]
        forbidden = forbidden_words(entry) | {entry.lemma_word}
        name_side = entry.phonology.sign_type == "OneHanded" and side == "left" and not leaks(side, forbidden)
        for text in texts["phonology+hms"]:
            assert not leaks(text, forbidden), (entry.entry_id, text)
            assert not name_side or re.search(r"\b([Ll]eft|L)\b", text), text    # a left hand is always named
            written += 1
    assert written >= 0.95 * 3 * len(samples)


@needs_lexicon
def test_free_text_varies_its_wording(samples, hms):
    from backend.data.text import texts_for

    entry, motion, truth = next(s for s in samples if s[2].strokes.get("right") and s[2].contact.get("right"))
    cues = hms.measure(motion, truth.sign_frames)
    texts = texts_for(entry, cues, "right", np.random.default_rng(1), 40)["phonology+hms"]
    assert len(set(texts)) >= 30
    openings = {t.split(",")[0].split(" ")[0] for t in texts}
    assert len(openings) >= 4


def test_leak_check_matches_words_not_substrings():
    from backend.data.text import leaks

    assert leaks("The right hand touches the chin.", {"chin"}) == ["chin"]
    assert leaks("The right hand touches the chinstrap.", {"chin"}) == []
    assert leaks("an I-love-you hand", {"love"}) == ["love"]


# ------------------------------------------------------------------ dataset

@needs_lexicon
def test_dataset_build_is_deterministic_resumable_and_split(tmp_path, lex):
    from backend.data.dataset import BuildConfig, Dataset, build, plan

    cfg = BuildConfig(out=str(tmp_path / "a"), samples=60, seed=4, workers=1, shard_size=16,
                      texts_per_sample=2, word_sets=(2, 3), word_set_samples=5)
    manifest = build(cfg)
    specs = plan(lex, cfg)
    assert manifest["samples"] == len(specs) == 60 + 3 * 5
    ds = Dataset.open(tmp_path / "a")
    splits = collections.Counter(r["split"] for r in ds.records)
    assert set(splits) == {"train", "test_seen", "test_unseen", "word_train", "word_test"}
    train_words = {r["word"] for r in ds.split("train")}
    assert not train_words & {r["word"] for r in ds.split("test_unseen")}
    assert sum(1 for r in ds.records if "w2" in r["word_sets"]) == 10
    rec = ds.split("train")[0]
    motion = ds.motion(rec)
    assert motion.num_frames == rec["frames"] and rec["entry"] in rec["candidates"]
    assert rec["assigned"] in rec["candidates"] and rec["texts"]["phonology+hms"]
    with np.load(tmp_path / "a" / "stats.npz", allow_pickle=False) as z:
        assert z["mean"].shape == (274,) and (z["std"] > 0).all()
    # the same seed elsewhere gives the same data; a lost shard is rebuilt the same. Records
    # match exactly; arrays to float32 rounding, since BLAS kernels (FMA or not) vary with
    # memory alignment from one process to the next
    def same_shard(name, a="a", b="b"):
        with np.load(tmp_path / a / name) as za, np.load(tmp_path / b / name) as zb:
            assert za.files == zb.files
            for key in za.files:
                assert za[key].dtype == zb[key].dtype and za[key].shape == zb[key].shape
                sums = key in ("feature_sum", "feature_sq")      # sums over a motion's frames
                assert np.allclose(za[key], zb[key], rtol=1e-6 if sums else 0, atol=1e-6), (name, key)
        jl = name.replace(".npz", ".jsonl")
        assert (tmp_path / a / jl).read_text() == (tmp_path / b / jl).read_text()

    build(BuildConfig(**{**cfg.__dict__, "out": str(tmp_path / "b")}))
    for name in manifest["shards"]:
        same_shard(name)
    lost = tmp_path / "b" / manifest["shards"][1]
    lost.unlink()
    build(BuildConfig(**{**cfg.__dict__, "out": str(tmp_path / "b")}))
    same_shard(manifest["shards"][1])
    with pytest.raises(Exception, match="other settings"):
        build(BuildConfig(**{**cfg.__dict__, "out": str(tmp_path / "b"), "seed": 5}))
    # statistics from the per-motion sums equal those summed from the frames (a shard
    # written before the sums existed), and a shard whose records do not match is refused
    from backend.data.dataset import DatasetError, write_stats

    with np.load(tmp_path / "a" / "stats.npz") as z:
        want = {k: z[k] for k in z.files}
    first = tmp_path / "a" / manifest["shards"][0]
    with np.load(first) as z:
        old = {k: z[k] for k in z.files if k not in ("feature_sum", "feature_sq")}
    np.savez(first, **old)
    assert write_stats(tmp_path / "a", manifest["shards"], lambda r: r["split"] == "train") == want["frames"]
    with np.load(tmp_path / "a" / "stats.npz") as z:
        assert np.allclose(z["mean"], want["mean"], atol=1e-6) and np.allclose(z["std"], want["std"], atol=1e-6)
    jsonl = first.with_suffix(".jsonl")
    jsonl.write_text("".join(jsonl.read_text().splitlines(keepends=True)[1:]))
    with pytest.raises(DatasetError, match="records"):
        write_stats(tmp_path / "a", manifest["shards"], lambda r: True)


@needs_lexicon
def test_retrieval_assignment_picks_the_best_scored_variant(lex):
    from backend.data.dataset import DatasetError, RetrievalAssigner, Spec, make_assigner

    spec = Spec("s0000000", "castle", "castle", ("castle", "castle_2", "castle_3"), "train", 1, False, (), 1)

    class LengthScorer:   # scores texts by length: enough to check that argmax is taken
        def score(self, features, texts):
            return np.array([len(t) for t in texts], float)

    texts = {"castle": "short", "castle_2": "a much longer description", "castle_3": "medium one"}
    assert RetrievalAssigner(LengthScorer()).assign(spec, np.zeros((5, 274)), texts.get) == "castle_2"
    with pytest.raises(DatasetError, match="retrieval model"):
        make_assigner("retrieval")


@needs_lexicon
def test_cli_builds_with_two_workers_and_previews(tmp_path):
    out = tmp_path / "ds"
    cmd = [sys.executable, "-m", "backend.cli", "data", "build", "--out", str(out), "--samples", "40",
           "--seed", "2", "--workers", "2", "--shard-size", "10", "--word-sets", "2", "--word-set-samples", "5"]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    manifest = json.loads((out / "dataset.json").read_text())
    assert manifest["samples"] == 50 and len(manifest["shards"]) == 5
    sheet = tmp_path / "sheet.png"
    run = subprocess.run([sys.executable, "-m", "backend.cli", "preview", str(out), "-o", str(sheet),
                          "--count", "2", "--frames", "3"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    from PIL import Image

    img = np.asarray(Image.open(sheet).convert("L"))
    assert img.shape[0] > 300 and (img < 128).mean() > 0.002   # lines were drawn
    bad = subprocess.run([sys.executable, "-m", "backend.cli", "data", "synth", "no_such_sign", "-o",
                          str(tmp_path / "x.npz")], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "no entry 'no_such_sign'" in bad.stderr
    assert not (tmp_path / "x.npz").exists()


def test_rig_sites_match_skinned_mesh(body):
    from backend.motion.builtin import wave

    motion = wave().with_(betas=np.array([1.0, -0.5, 0.3] + [0.0] * 7, np.float32))
    rig = Rig.from_body(body, motion.betas)
    glob, pos = rig.fk(motion.poses)
    posed = body.pose(motion)
    assert np.abs(pos - posed.joints).max() < 1e-5
    assert np.abs(rig.sites(glob, pos) - body.sites.positions(posed.vertices)).max() < 0.005
    # the numpy skinning the synthesizer uses for the body surface: exact but for the
    # pose-corrective blend shapes it leaves out (millimetres)
    gap = np.linalg.norm(rig.vertices(body, motion.poses[20]) - (posed.vertices[20] - motion.trans[20]), axis=-1)
    assert gap.max() < 0.01 and np.median(gap) < 0.001


def test_numpy_rotation_fast_path_matches_torch(rng):
    from backend.body import rotations as R

    aa = rng.normal(size=(100, 3)) * 1.5
    m = R.axis_angle_to_matrix(aa)
    q = R.axis_angle_to_quaternion(aa)
    assert np.allclose(R.np_matrix_to_quaternion(m), R.matrix_to_quaternion(m), atol=1e-12)
    assert np.allclose(R.np_axis_angle_to_quaternion(aa), q, atol=1e-12)
    assert np.allclose(R.np_quaternion_to_axis_angle(q), R.quaternion_to_axis_angle(q), atol=1e-10)
    assert np.allclose(R.np_quaternion_to_matrix(q), m, atol=1e-12)
    q2 = R.axis_angle_to_quaternion(rng.normal(size=(100, 3)))
    t = rng.random((100, 1))
    assert np.allclose(R.np_quaternion_slerp(q, q2, t), R.quaternion_slerp(q, q2, t), atol=1e-12)
    path = R.np_quaternion_slerp_path(q[:7], q2[:7], t[:9, 0])                          # (9, 7, 4)
    assert np.allclose(path, R.quaternion_slerp(np.broadcast_to(q[:7], (9, 7, 4)), np.broadcast_to(q2[:7], (9, 7, 4)),
                                                np.broadcast_to(t[:9, None], (9, 7, 1))), atol=1e-12)
    tiny = np.concatenate([aa, rng.normal(size=(5, 3)) * 1e-6, np.zeros((1, 3))])
    assert np.allclose(R.np_axis_angle_to_matrix(tiny), R.axis_angle_to_matrix(tiny), atol=1e-12)
    b = rng.normal(size=(100, 3))
    assert np.allclose(R.np_cross(aa, b), np.cross(aa, b), atol=1e-12)
    assert np.allclose(R.np_norm(aa), np.linalg.norm(aa, axis=-1), atol=1e-12)


def test_hand_penetration_sees_a_hand_inside_the_chest(body):
    from backend.body.collide import hand_penetration
    from backend.motion import Motion

    rest = Motion(np.zeros((1, 55, 3)), np.zeros((1, 3)), np.zeros((1, 10)), 25.0)
    assert hand_penetration(body, rest)["torso"].max() == 0.0
    # fold the right arm so that the hand is pushed through the chest
    poses = np.zeros((1, 55, 3))
    poses[0, J["right_shoulder"]] = (0.0, 1.5, 0.0)     # upper arm swung forward and across
    poses[0, J["right_elbow"]] = (0.0, 2.0, 0.0)        # forearm folded back into the body
    inside = hand_penetration(body, Motion(poses, np.zeros((1, 3)), np.zeros((1, 10)), 25.0))
    assert inside["torso"].max() > 0.02


@needs_lexicon
def test_hands_that_touch_the_head_or_body_stay_out_of_it(lex, synth, body):
    """Signs that touch the head or torso: the fingers beside the touching one, the palm and
    the wrist are turned out of the skin (``_Build._clear``), while the touch stays."""
    from backend.body.collide import hand_penetration
    from backend.data.synth import LOCATIONS

    rng = np.random.default_rng(2)
    touching = [e for e in lex.entries if e.phonology.has_contact and
                LOCATIONS.get(e.phonology.minor_location, ("",))[0] in ("head", "body")]
    pick = [touching[i] for i in rng.choice(len(touching), 24, replace=False)]
    deepest, anywhere = [], []
    for entry, (motion, truth) in zip(pick, synth.synthesize_many([(e, i) for i, e in enumerate(pick)])):
        depth = np.maximum(*hand_penetration(body, motion).values())
        a, b = truth.sign_frames
        deepest.append(depth[a:b].max())
        anywhere.append(depth.max())
    deepest, anywhere = np.array(deepest), np.array(anywhere)
    print(f"\ndeepest hand point inside the head or torso while signing: median {np.median(deepest) * 100:.2f} cm, "
          f"over 1.5 cm in {np.mean(deepest > 0.015):.0%} of {len(pick)} signs, worst {deepest.max() * 100:.1f} cm; "
          f"over the whole motion (approach and return too): over 1.5 cm in {np.mean(anywhere > 0.015):.0%}, "
          f"worst {anywhere.max() * 100:.1f} cm")
    assert np.median(deepest) < 0.008
    assert np.mean(deepest > 0.015) <= 0.25
    assert np.mean(anywhere > 0.015) <= 0.35


@needs_lexicon
def test_the_way_to_the_face_stays_close_in_front_of_the_body(lex, synth, body):
    """On its way in and out the hand bows forward only as far as it needs to stay out of
    the body: the arm swung out nearly straight (the wrist a median 27 cm in front of the
    chest, 37 cm at the 90th percentile, over signs at the head and torso)."""
    from backend.body.sites import SITE_INDEX
    from backend.data.synth import LOCATIONS, Signer
    from backend.eval.fidelity import posed

    rng = np.random.default_rng(5)
    at_body = [e for e in lex.entries if e.phonology.has_contact and
               LOCATIONS.get(e.phonology.minor_location, ("",))[0] in ("head", "body")]
    pick = [at_body[i] for i in rng.choice(len(at_body), 16, replace=False)]
    ahead = []
    for entry, (motion, truth) in zip(pick, synth.synthesize_many([(e, Signer.sample(i)) for i, e in enumerate(pick)])):
        a, b = truth.sign_frames
        sites = posed(motion, body).sites
        off_sign = np.r_[0:a, b:motion.num_frames]
        ahead.append((sites[off_sign, SITE_INDEX["right_wrist"], 2] - sites[off_sign, SITE_INDEX["chest"], 2]).max())
    assert np.median(ahead) < 0.23, np.round(ahead, 2)


@needs_lexicon
def test_compounds_sign_their_morphemes_in_turn(lex, synth):
    from backend.data.synth import MAX_SECONDS

    entry = next(e for e in lex.entries if len(e.morphemes) == 2
                 and e.morphemes[0].handshape != e.morphemes[1].handshape)
    motion, truth = synth.synthesize(entry, 2)
    assert truth.handshape["right"] == [entry.morphemes[0].handshape, entry.morphemes[1].handshape] or \
        truth.handshape["left"] == [entry.morphemes[0].handshape, entry.morphemes[1].handshape]
    assert motion.duration <= MAX_SECONDS + 1e-6
    single, _ = synth.synthesize(entry.__class__(**{**entry.__dict__, "morphemes": entry.morphemes[:1]}), 2)
    assert motion.num_frames > single.num_frames - 5
