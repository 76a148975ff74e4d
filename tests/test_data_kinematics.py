"""Synthesized signs move as signers move: bell-shaped reaches timed from the dictionary's
clips, no snaps (the data bar of the fidelity issue: median peak wrist speed at most
3.5 m/s, at most 1% of frames over 4 m/s)."""
from __future__ import annotations

import numpy as np
import pytest

from backend.data.lexicon import read_lexicon
from backend.data.synth import Signer, SynthError, Synthesizer
from backend.data.synth.maths import min_jerk
from backend.data.synth.timeline import Timing, travel_frames
from backend.eval.fidelity import fast_steps, peak_speed, wrist_speed


@pytest.fixture(scope="module")
def signs(body):
    lex = read_lexicon()
    entries = list(lex.by_id().values())
    rng = np.random.default_rng(7)
    synth = Synthesizer(body)
    out = []
    for i in rng.choice(len(entries), 70, replace=False):
        try:
            out.append((entries[i], *synth.synthesize(entries[i], Signer.sample(int(i), left_handed=i % 4 == 0))))
        except SynthError:
            continue
    return out


def test_min_jerk_is_bell_shaped():
    x = np.linspace(0, 1, 201)
    v = np.gradient(min_jerk(x), x)
    assert min_jerk(0.0) == 0 and min_jerk(1.0) == 1
    assert v[0] == pytest.approx(0, abs=1e-3) and v[-1] == pytest.approx(0, abs=1e-3)
    assert v.max() == pytest.approx(1.875, rel=1e-3) and int(v.argmax()) == 100


def test_reach_and_clip_time_set_the_approach():
    assert travel_frames(1.0) == round(0.44 * 25)
    assert travel_frames(1.0, clip_ms=700) == round(0.6 * 25)          # the clip's own time
    assert travel_frames(1.0, reach=0.8) > travel_frames(1.0, reach=0.3)   # a far reach takes longer
    assert travel_frames(1.2, reach=0.8) > travel_frames(1.0, reach=0.8)   # a slower signer
    entry = read_lexicon().entries[0]
    t = Timing.plan(1.0, entry, np.random.default_rng(0), reach=0.5)
    assert t.approach == travel_frames(1.0, 0.5, entry.approach_ms)


def test_synthesized_signs_hold_the_kinematic_bar(signs, body):
    peaks = [peak_speed(m, body) for _, m, _ in signs]
    fast, steps = np.sum([fast_steps(m, body) for _, m, _ in signs], axis=0)
    assert len(signs) >= 60
    assert np.median(peaks) <= 3.5, f"median peak wrist speed {np.median(peaks):.2f} m/s"
    assert fast / steps <= 0.01, f"{fast / steps:.2%} of frames over 4 m/s"


def test_the_approach_is_one_smooth_bell(signs, body):
    """From rest to the sign the dominant wrist speeds up once and slows down once."""
    bells = 0
    for entry, m, truth in signs:
        side = "left" if m.provenance.get("mirrored") == "true" else "right"
        sp = wrist_speed(m, body, side)[: truth.sign_frames[0] - 5]   # rest + approach
        peak = int(sp.argmax())
        rising, falling = np.diff(sp[: peak + 1]), np.diff(sp[peak:])
        bells += bool((rising > -0.05).all() and (falling < 0.05).all())
    assert bells >= 0.9 * len(signs), f"{bells}/{len(signs)} approaches are single bells"
