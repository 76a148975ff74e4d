"""The text grammar: styles, synonyms, hands named, counts, held-out paraphrases, on real builds."""
from __future__ import annotations

import collections
from dataclasses import replace
import re

import numpy as np
import pytest

from backend.data import vocab as V
from backend.data.hms import Cues, HandCues
from backend.data.lexicon import Phonology, resolve_lexicon_path

needs_lexicon = pytest.mark.skipif(not resolve_lexicon_path().exists(), reason="ASL-LEX 2.0 not found")
SEED = 3

# what a text may call the signing hand: a side word before "hand" or a handshape name
_SHAPE_WORDS = sorted({w.text for words in V.SHAPES.values() for w in words} | {"hand", "relaxed hand"},
                      key=len, reverse=True)
_SHAPES_RE = "|".join(map(re.escape, _SHAPE_WORDS))
_HAND_NAMED = {side: re.compile(rf"\b({side}|{side.capitalize()}|{side[0].upper()}) (hand|{_SHAPES_RE})\b")
               for side in ("left", "right")}
_NUMBER = re.compile(r"\b(?:x(\d)|(\d)x)\b")


def stated_counts(text: str) -> list[int]:
    """Every repetition count a text states as a number ('twice', 'three times', 'x3')."""
    low = text.lower()
    found = [n for phrase, n in V.COUNT_WORDS.items() if re.search(rf"\b{re.escape(phrase)}\b", low)]
    found += [int(a or b) for a, b in _NUMBER.findall(low)]
    return found


def _phonology(**values) -> Phonology:
    fields = {f: "NA" for f in Phonology.__dataclass_fields__}
    fields.update(values)
    return Phonology(**fields)


# ------------------------------------------------------------------ the vocabulary and the split

def test_split_is_seeded_and_holds_out_a_fifth_of_the_synonyms():
    from backend.data.text import STYLE_WEIGHTS, WRITERS

    assert set(WRITERS) == set(STYLE_WEIGHTS) == set(V.STYLES)      # every family has a writer
    a, b = V.TextSplit.from_seed(0), V.TextSplit.from_seed(0)
    assert a == b and a != V.TextSplit.from_seed(1)
    assert a.held_out_style in V.HOLDABLE_STYLES
    assert set(a.train_styles) == set(V.STYLES) - {a.held_out_style}
    total = len(V.synonym_ids())
    assert len(a.held_out) == round(V.HELD_OUT_SYNONYM_FRACTION * total) and len(set(V.synonym_ids())) == total
    assert V.HELD_OUT_SYNONYM_FRACTION == 0.2
    table = V.concepts()
    for sid in a.held_out:
        key, _, text = sid.partition("/")
        word = next(w for w in table[key] if w.text == text)
        assert not word.core, sid                        # the everyday words always train
    for key, words in table.items():                     # every concept keeps a training word
        assert any(not a.is_held_out(key, w) for w in words), key
    assert V.TextSplit.from_seed(0, "imperative").held_out_style == "imperative"
    with pytest.raises(ValueError, match="unknown text style"):
        V.TextSplit.from_seed(0, "shouting")
    saved = a.as_dict()
    assert saved["held_out_style"] == a.held_out_style
    assert sum(len(v) for v in saved["held_out_synonyms"].values()) == len(a.held_out)


def test_a_synonym_that_can_be_held_out_is_found_only_by_its_own_pattern():
    """Held-out words are looked for in texts by pattern, so no pattern may match another word."""
    table = V.concepts()
    fill = lambda f: f.replace("{x}", "it").replace("{p}", "the chin").replace("{d}", "to the left")  # noqa: E731
    phrases = {(key, w.text): [w.text] + [fill(f) for f in w.hand + w.agent + w.bare]
               for key, words in table.items() for w in words}
    split = V.TextSplit(None, frozenset(f"{k}/{w.text}" for k, ws in table.items() for w in ws if not w.core))
    from backend.data import handshapes as H
    from backend.data.text import plain_handshape

    described = [h.description for h in H.HANDSHAPES.values()] + [plain_handshape(n) for n in H.HANDSHAPES]
    for sid, pattern in V.word_patterns(split).items():
        assert not [d for d in described if pattern.search(d)], sid              # nor a handshape's description
        key, _, text = sid.partition("/")
        assert any(pattern.search(p) for p in phrases[(key, text)]), sid      # finds itself
        for (other_key, other_text), said in phrases.items():
            if (other_key, other_text) != (key, text):
                hits = [p for p in said if pattern.search(p)]
                assert not hits, (sid, other_key, hits)


# ------------------------------------------------------------------ one scene, every style

def _tap_chin_cues(side: str) -> Cues:
    hand = HandCues(touch=["near chin", "touch chin", "near chin", "touch chin"], palm=["left"],
                    moves=["back", "forward", "back"], fingers=["closed"], active=True)
    other = "left" if side == "right" else "right"
    return Cues({side: hand, other: HandCues()}, [], (0, 40))


@pytest.mark.parametrize("side", ["right", "left"])
def test_a_fist_tapping_the_chin_twice_in_every_style(side):
    from backend.data.text import TemplateTranslator, scene_for

    ph = _phonology(handshape="s", sign_type="OneHanded", repeated_movement="1", minor_location="Chin",
                    major_location="Head", contact="1", movement="Straight")
    cues = _tap_chin_cues(side)
    scene = scene_for(ph, cues, side)
    assert (scene.side, scene.hands, scene.place, scene.contact, scene.action, scene.count) == \
        (side, "one", "chin", True, "tap", 2)
    out = TemplateTranslator().describe_styled(ph, cues, side, 60, np.random.default_rng(0), {"fist-bump"})
    by_style = collections.defaultdict(list)
    for text, style in out:
        by_style[style].append(text)
    assert set(by_style) == set(V.STYLES)
    for text, _ in out:
        assert set(stated_counts(text)) <= {2}, text        # taps twice, goes back and forth twice
        assert re.search(r"\b(chin|jaw|point of the chin)\b", text, re.I), text
        if side == "left":
            assert re.search(r"\b([Ll]eft|L)\b", text), text
            assert not _HAND_NAMED["right"].search(text), text
    assert sum(bool(stated_counts(t)) for t, _ in out) >= len(out) // 2
    said = " ".join(t.lower() for t, _ in out)
    for word in ("fist", "tap", "knock", "twice", "your", "the signer"):
        assert word in said, word
    assert any(re.fullmatch(r"[^.]*(x2|2x)[^.]*", t) for t in by_style["terse"]), by_style["terse"]


@pytest.mark.parametrize("shape, change", [("flat_h", "close"), ("s", "open"), ("open_b", "close")])
def test_a_coded_finger_change_is_said_even_where_the_cues_read_one_state(shape, change):
    """Two fingers bent flat that fold into a fist read "closed" before and after, so the
    cues see no change; the coding's FlexionChange is still what the hand does."""
    from backend.data.text import TemplateTranslator, scene_for

    ph = _phonology(handshape=shape, sign_type="OneHanded", minor_location="Neutral", flexion_change="1",
                    movement="Straight")
    state = "closed" if shape != "open_b" else "open"
    cues = Cues({"right": HandCues(palm=["down"], moves=["forward"], fingers=[state], active=True),
                 "left": HandCues()}, [], (0, 40))
    assert scene_for(ph, cues, "right").fingers == change
    assert scene_for(replace(ph, flexion_change="0"), cues, "right").fingers == ""
    out = TemplateTranslator().describe(ph, cues, "right", 12, np.random.default_rng(0), set())
    said = {"close": r"\b(clos|curl|fold)", "open": r"\b(open|spread|unfold)"}[change]
    assert all(re.search(said, t, re.I) for t in out), out


@pytest.mark.parametrize("moves, path, said", [(["up"], "arc", True), (["up"], "straight", False),
                                               (["forward", "back", "forward"], "arc", True),
                                               (["left"], "circle", False)])
def test_a_travelling_stroke_the_cues_measure_curving_is_said_to_arc(moves, path, said):
    """The cues' path (HandMotionScript's ``path_shape``) says whether a stroke curves; every
    style then says so in words the planner reads, and never that it goes "straight ahead"."""
    from backend.data.text import TemplateTranslator, scene_for
    from backend.plan.words import says_arc

    ph = _phonology(handshape="s", sign_type="OneHanded", minor_location="Neutral", movement="Curved")
    cues = Cues({"right": HandCues(palm=["down"], moves=moves, path=path, fingers=["closed"], active=True),
                 "left": HandCues()}, [], (0, 40))
    assert scene_for(ph, cues, "right").arc is said
    out = TemplateTranslator(V.TextSplit.from_seed(0)).describe_styled(ph, cues, "right", 24,
                                                                      np.random.default_rng(2), set())
    assert {style for _, style in out} >= {"imperative", "third_person", "terse", "descriptive"}
    assert all(says_arc(t) is said for t, _ in out), out
    assert not said or not any("straight" in t for t, _ in out), out


def test_a_sign_named_right_never_says_right():
    from backend.data.text import TemplateTranslator, leaks

    ph = _phonology(handshape="1", sign_type="OneHanded", minor_location="Chin", contact="1")
    out = TemplateTranslator().describe(ph, _tap_chin_cues("right"), "right", 20, np.random.default_rng(1),
                                        {"right", "correct"})
    assert len(out) >= 15 and not any(leaks(t, {"right", "correct"}) for t in out)


def test_a_shape_named_like_its_sign_is_described_in_finger_terms():
    from backend.data.text import TemplateTranslator, leaks

    ph = _phonology(handshape="ily", sign_type="OneHanded", minor_location="Neutral")
    cues = Cues({"right": HandCues(palm=["down"], moves=["forward", "back", "forward"], fingers=["open"], active=True),
                 "left": HandCues()}, [], (0, 40))
    forbidden = {"i love you", "ily", "love"}
    out = TemplateTranslator().describe(ph, cues, "right", 3, np.random.default_rng(0), forbidden)
    assert len(out) == 3 and not any(leaks(t, forbidden) for t in out), out


# ------------------------------------------------------------------ a real build

@pytest.fixture(scope="module")
def lex():
    from backend.data.lexicon import read_lexicon

    return read_lexicon()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from backend.data.dataset import BuildConfig, Dataset, build

    out = tmp_path_factory.mktemp("grammar")
    build(BuildConfig(out=str(out), samples=360, seed=SEED, workers=1, shard_size=120, word_sets=()))
    return Dataset.open(out)


@needs_lexicon
def test_a_quarter_of_the_signers_are_left_handed_and_texts_name_their_hand(built, lex):
    from backend.data.synth import signed_morphemes
    from backend.data.text import forbidden_words, leaks

    by_id = lex.by_id()
    left = [r for r in built.records if r["dominant"] == "left"]
    assert len(left) >= 0.2 * len(built.records)
    assert built.manifest["texts"]["left_handed"] == len(left)
    checked = 0
    for rec in left:
        if leaks("left", forbidden_words(by_id[rec["assigned"]]) | {rec["word"]}):
            continue                     # a sign called "left": its texts cannot say so
        sign_type = by_id[rec["assigned"]].phonology.sign_type
        if sign_type.startswith("Symmetr"):
            continue                     # both hands sign: "both hands"
        # every part one-handed (a compound's later part may sign on the other hand)
        one_handed = all(m.sign_type == "OneHanded" for m in signed_morphemes(by_id[rec["assigned"]]))
        for text in rec["texts"]["phonology+hms"] + rec["texts"].get("paraphrase", []):
            assert re.search(r"\b([Ll]eft|L)\b", text), text
            if one_handed:
                assert not _HAND_NAMED["right"].search(text), text
                checked += 1
    assert checked >= 50
    # right-handers: a fair share of one-handed texts say "right", and some leave it unsaid
    right = [t for r in built.records if r["dominant"] == "right"
             and all(m.sign_type == "OneHanded" for m in signed_morphemes(by_id[r["assigned"]]))
             for t in r["texts"]["phonology+hms"]]
    named = sum(bool(_HAND_NAMED["right"].search(t) or re.search(r"\b[Rr]ight\b", t)) for t in right)
    assert 0.5 <= named / len(right) <= 0.9, named / len(right)
    assert not any(_HAND_NAMED["left"].search(t) for t in right)


@needs_lexicon
def test_every_style_trains_but_the_held_out_one_and_paraphrases_use_what_training_never_saw(built):
    split = V.TextSplit.from_seed(SEED)
    saved = built.manifest["texts"]
    assert saved["held_out_style"] == split.held_out_style
    assert {f"{k}/{t}" for k, ts in saved["held_out_synonyms"].items() for t in ts} == split.held_out
    patterns = V.word_patterns(split)
    train_styles = collections.Counter()
    for rec in built.records:
        train_styles.update(rec["text_styles"]["phonology+hms"])
        for text in rec["texts"]["phonology+hms"]:
            hits = [sid for sid, p in patterns.items() if p.search(text)]
            assert not hits, (text, hits)
    assert set(train_styles) == set(split.train_styles)
    assert min(train_styles.values()) >= 50, train_styles
    para = built.paraphrases()
    assert para and {r["split"] for r in para} == {"test_seen", "test_unseen"}
    assert all(r["split"] in ("test_seen", "test_unseen") for r in para)
    assert not any("paraphrase" in r["texts"] for r in built.split("train"))
    para_styles = collections.Counter()
    used = set()
    for rec in para:
        assert len(rec["text_styles"]["paraphrase"]) == len(rec["texts"]["paraphrase"])
        for text, style in zip(rec["texts"]["paraphrase"], rec["text_styles"]["paraphrase"]):
            para_styles[style] += 1
            hits = {sid for sid, p in patterns.items() if p.search(text)}
            used |= hits
            assert style == split.held_out_style or hits, text
            assert text not in rec["texts"]["phonology+hms"]
    assert para_styles[split.held_out_style] >= 0.3 * sum(para_styles.values())
    assert len(used) >= 0.4 * len(split.held_out), sorted(split.held_out - used)


@needs_lexicon
def test_no_text_of_a_build_names_its_sign(built, lex):
    from backend.data.text import forbidden_words, leaks

    by_id = lex.by_id()
    n = 0
    for rec in built.records:
        forbidden = forbidden_words(by_id[rec["assigned"]]) | {rec["word"]}
        for text in rec["texts"]["phonology+hms"] + rec["texts"].get("paraphrase", []):
            assert not leaks(text, forbidden), (rec["word"], text)
            n += 1
        assert len(rec["texts"]["phonology+hms"]) == 3
    assert n >= 1000


@needs_lexicon
def test_stated_counts_are_the_counts_the_cues_measured(built):
    stated = 0
    for rec in built.records:
        measured: set[int] = set()
        for hms in [p["hms"] for p in rec["parts"]] or [rec["hms"]]:     # a compound: each part's cues
            hand = hms[rec["dominant"]]
            measured |= {hand["touch"].count(t) for t in hand["touch"] if t.startswith("touch ")}
            measured |= {hand["moves"].count(m) for m in hand["moves"]}
            measured.add(hms["hands"].count("touch"))
        hand = rec["hms"][rec["dominant"]]
        only_circles = not rec["parts"] and hand["moves"] and set(hand["moves"]) == {"circle"} and \
            not any(t.startswith("touch ") for t in hand["touch"]) and "touch" not in rec["hms"]["hands"]
        for text in rec["texts"]["phonology+hms"] + rec["texts"].get("paraphrase", []):
            counts = stated_counts(text)
            stated += bool(counts)
            assert set(counts) <= measured, (text, hand, rec["hms"]["hands"])
            if only_circles:
                assert set(counts) <= {len(hand["moves"])}, (text, hand["moves"])
    assert stated >= 0.1 * sum(len(r["texts"]["phonology+hms"]) for r in built.records)
