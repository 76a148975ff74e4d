"""Notation people type in place of sentences: emoji and chat spellings ("✌️ on forehead, 2
taps", "on ur heart"), hands named by handedness ("the hand you don't write with"), a speaker's
corrections ("the left, sorry, the right hand"), an animation professional's rig notes
("Hand_L ... 30 cm along +Z", "pointer pose", "contact at f12"), letters of the manual
alphabet ("S-hand"), a word said over and over ("pat, pat, pat"), arrows ("R fist → chin, ×2",
"L open ↓ forehead → chin"), numbered steps ("1. right V at the forehead 2. flick it out
forward") and fields ("hand=R shape=1 loc=temple mov=tap,tap", "{hand: left, handshape: index,
target: nose, action: touch}"). ``in_words`` writes each in the plain words the parser and the
plain-word rules read; a text without any is unchanged.

The dictionary fields of a sign-teacher's note, one to a sentence ("Handshape: 1. Location:
chin. Movement: tap twice."), are left as they are: the plain-word rules read those. Pure
Python.
"""
from __future__ import annotations

import re

from ..data.vocab import DIRECTIONS, PLACES

# emoji -> words (skin tones and the emoji variation selector are dropped first)
EMOJI = {"✌": " V shape ", "🤞": " crossed fingers ", "👍": " thumbs-up ", "👆": " index finger ", "☝": " index finger ",
         "👉": " index finger ", "👈": " index finger ", "👇": " index finger ", "👋": " wave ", "👊": " fist ",
         "✊": " fist ", "🤛": " fist ", "🤜": " fist ", "✋": " flat hand ", "🤚": " flat hand ", "🖐": " spread hand ",
         "👏": " clap ", "🙏": " flat hands pressed together ", "❤": " heart ", "💓": " heart ", "🌀": " circle ",
         "🔄": " circle ", "↻": " circle ", "↺": " circle ", "⟳": " circle "}
_MODIFIERS = re.compile("[\ufe0f\u200d\U0001F3FB-\U0001F3FF]")
# chat spellings of the words the rules read ("on ur heart": on your heart)
_CHAT_WORDS = {"ur": "your", "thru": "through", "em": "them", "'em": "them", "lil": "little"}
_CHAT = re.compile(r"(?<![\w'])(?:ur|thru|'?em|lil)\b", re.IGNORECASE)
_UP, _DOWN = "↑⬆", "↓⬇"
_ARROW = re.compile(r"\s*(?:→|⟶|➡|➔|➜|->|=>)\s*")
_SIDE_WORD = re.compile(r"\b(?:lefty|leftie)\b", re.IGNORECASE), re.compile(r"\b(?:righty|rightie)\b", re.IGNORECASE)

_PLACE = re.compile(r"(?:the\s+|your\s+|ur\s+)?\b(?:" + "|".join(
    sorted({re.escape(w.text) for words in PLACES.values() for w in words if w.core}, key=len, reverse=True))
    + r")s?\b", re.IGNORECASE)
_WAY = re.compile(r"(?:\s*(?:out|back)\b)?\s*\b(?:" + "|".join(
    sorted({re.escape(w.text) for words in DIRECTIONS.values() for w in words if w.core}, key=len, reverse=True))
    + r"|out|together|apart|away)\b", re.IGNORECASE)

# numbered steps: "1." / "2)" / "Step 1:" / "Step B —" / "first:" (a sequence: the first and the second said)
_STEP = re.compile(r"(?:(?<=\s)|(?<=^)|(?<=[.;,]))\s*(?:step\s+)?(?P<n>[1-9]|[A-D])\s*(?:[.):]|\s[-\u2013\u2014])\s+",
                   re.IGNORECASE)

# fields: a key, ":" or "=", a value, up to the next separator or key
_KEYS = {"hand": "hand", "hands": "hand", "side": "hand", "shape": "shape", "handshape": "shape", "hs": "shape",
         "loc": "place", "location": "place", "site": "place", "place": "place", "target": "place", "where": "place",
         "mov": "motion", "motion": "motion", "movement": "motion", "action": "motion", "move": "motion",
         "speed": "speed", "count": "count", "reps": "count", "times": "count", "start": "start", "end": "end"}
_KEY = r"\b(?:" + "|".join(sorted(_KEYS, key=len, reverse=True)) + r")\b"
_FIELD = re.compile(rf"(?P<key>{_KEY})\s*(?P<mark>[:=])\s*(?P<value>[^;,/|{{}}\n.!?]+?)(?=\s*(?:[;,/|{{}}\n.!?]|{_KEY}\s*[:=]|$))",
                    re.IGNORECASE)
# (the dominant hand stays so named: the user's hand decides which side it is, as in ``choose_side``)
_SIDES = {"l": "left", "left": "left", "lh": "left", "r": "right", "right": "right", "rh": "right", "both": "both",
          "2": "both", "two": "both", "dominant": "dominant", "dom": "dominant", "non-dominant": "non-dominant",
          "nondominant": "non-dominant"}
# a handshape's letter or number in the vocabulary's core words (never a held-out synonym: "V
# hand" and "O hand" test the parser)
LETTER_WORDS = {"A": "fist", "S": "fist", "E": "fist", "B": "flat hand", "V": "V shape", "C": "C shape",
                "O": "O shape", "L": "L shape", "Y": "Y hand", "1": "index finger", "2": "V shape", "5": "spread hand",
                "G": "index finger", "D": "index finger"}
_SHAPES = {**{k.lower(): v for k, v in LETTER_WORDS.items()},
           "index": "index finger", "point": "index finger", "pointer": "index finger", "pointing": "index finger",
           "peace": "V shape", "flat": "flat hand", "open": "flat hand", "palm": "flat hand", "spread": "spread hand",
           "fist": "fist", "thumbs-up": "thumbs-up", "thumbs up": "thumbs-up", "thumb": "thumbs-up", "10": "thumbs-up",
           "claw": "claw"}
_VERBS = ("touch", "tap", "brush", "rub", "pat", "knock", "stroke", "poke")
# a verb of touching or moving, or a sound of one, said again and again
_SOUNDS = ("pat", "tap", "clap", "bonk", "boop", "knock", "bang", "thump", "poke", "bump", "rub", "twirl",
           "shake", "tickle", "circle", "push", "brush", "touch", "stroke", "wiggle")
_REPEATS = re.compile(r"\b(" + "|".join(_SOUNDS) + r")(?:[\s,-]+\1\b)+", re.IGNORECASE)
_MEET, _WIDE = re.compile(r"\b(?:meet\w*|touch\w*|together|close)\b", re.IGNORECASE), \
    re.compile(r"\b(?:wide|apart|far|open)\b", re.IGNORECASE)


def in_words(text: str) -> str:
    """``text`` with its emoji, arrows, numbered steps and fields written as plain words."""
    out = _fields(_steps(_arrows(_repeats(_letters(_technical(_corrected(_handed(_emoji(text)))))))))
    return re.sub(r"^[\s,.;:]+", "", re.sub(r"\s+([,.;:])", r"\1", re.sub(r"\s{2,}", " ", out))).strip() \
        if out != text else text


def _emoji(text: str) -> str:
    out = _MODIFIERS.sub("", text)
    for mark, words in EMOJI.items():   # a run of one emoji is one word ("✌️✌️", "❤️❤️")
        out = re.sub(f"(?:{re.escape(mark)}\\s*)+", words, out)
    out = _SIDE_WORD[0].sub("left hand", _SIDE_WORD[1].sub("right hand", out))
    out = _CHAT.sub(lambda m: _CHAT_WORDS[m[0].lower()], out)
    return out.replace("×", "x")


# a handshape's letter that the vocabulary names in other words ("S-hand", "both S", "R B"): the
# grammar's own terse notes say "R hand", "L V" and "R Y hand", which the parser reads as written
_HYPHENED = re.compile(r"\b([ABCLOSVY15])-(?:hand|shape)(s?)\b")
_BARE_LETTER = re.compile(r"\b(both|left|right|[LR])\s+([ASEB5])\b(?!\s*[-']?\s*(?:hands?|shapes?)\b)")


def _letters(text: str) -> str:
    """Letters of the manual alphabet written as the vocabulary's words: "S-hand" a fist, "both
    S" both fists, "R B" the right flat hand."""
    text = _HYPHENED.sub(lambda m: _plural(LETTER_WORDS[m[1]]) if m[2] else LETTER_WORDS[m[1]], text)
    return _BARE_LETTER.sub(lambda m: f"{m[1]} " + (_plural(LETTER_WORDS[m[2]]) if m[1].lower() == "both"
                                                   else LETTER_WORDS[m[2]]), text)


def _plural(shape: str) -> str:
    """"fist" fists, "V shape" V shapes, "thumbs-up" thumbs-ups."""
    return shape + "s"


# a speaker's correction of what they just said: "the left, sorry, the right hand"; "palm facing
# the lens... no, scratch that, palm facing the torso" (the clause before the correction goes)
_SIDE_FIX = re.compile(r"\b(?:left|right)\b[^.;]{0,30}?\b(?:sorry|no|my mistake|I mean|correction|rather|make that)\b"
                       # "the left no wait the right hand", "left, no, sorry, um, the right"
                       r"(?:[,\s\u2013\u2014-]*\b(?:wait|sorry|um+|uh+|I mean|actually)\b)*"
                       r"[,\s\u2013\u2014-]*(?:(?:its|the|his|her|their)\s+)?(left|right)\b", re.IGNORECASE)
_KILLED = re.compile(r"[^.;:!?,\u2013\u2014]*?(?:\s[\u2013\u2014-]|,|\.\.\.|\u2026)\s*(?:actually,?\s+|no,?\s+)?"
                     r"(?:kill|scratch|strike|forget|ignore)\s+that\b[,.;:\u2013\u2014-]*\s*", re.IGNORECASE)


# the hands named by handedness: "weak hand only (the person is right-handed)", "the hand you
# don't write with", "the writing hand hangs limp"; a signer said to be right- or left-handed
# names them by side, else they are the dominant and non-dominant hand (the user's hand decides)
_HANDED = re.compile(r"\s*\(?\b(?:(?:assuming|assume|pretend|imagine|if|since|as|because)\s+)?(?:that\s+)?"
                     r"(?:the\s+(?:person|signer|character)|you|they|he|she|a|an)?\s*(?:(?:is|are|'re|'s)\s+)?"
                     r"(?P<side>right|left)[- ]handed(?:\s+(?:person|signer|character))?\)?[,:;]?", re.IGNORECASE)
_WEAK = re.compile(r"\b(?:the\s+|your\s+)?(?:(?:weak(?:er)?|off|non-?writing)[- ]hand"
                   r"|hand\s+(?:you|they|he|she|I)\s+(?:don't|doesn't|do\s+not|does\s+not)\s+write\s+with)\b",
                   re.IGNORECASE)
_STRONG = re.compile(r"\b(?:the\s+|your\s+)?(?:(?:writing|strong(?:er)?)\s+hand|hand\s+(?:you|they|he|she|I)\s+write\s+with)\b",
                     re.IGNORECASE)


def _handed(text: str) -> str:
    """Hands named by handedness in the words the rules read (``_HANDED``, ``_WEAK``, ``_STRONG``)."""
    said = _HANDED.search(text)
    if said is None and not _WEAK.search(text) and not _STRONG.search(text):
        return text
    strong = said["side"].lower() if said else None
    weak = {"right": "left", "left": "right"}.get(strong or "")
    text = _HANDED.sub(" ", text) if said else text
    text = _WEAK.sub(f"the {weak} hand" if weak else "the non-dominant hand", text)
    text = _STRONG.sub(f"the {strong} hand" if strong else "the dominant hand", text)
    if strong:   # "The signer is left-handed. Their dominant hand's V ...": the left hand's
        text = re.sub(r"\b(?:(?:the|their|his|her|your|my)\s+)?non-?dominant\s+hand", f"the {weak} hand", text,
                      flags=re.IGNORECASE)
        text = re.sub(r"\b(?:(?:the|their|his|her|your|my)\s+)?(?<!non-)(?<!non)dominant\s+hand", f"the {strong} hand",
                      text, flags=re.IGNORECASE)
    return text


def _corrected(text: str) -> str:
    """A correction said in passing kept, what it corrects dropped."""
    return _KILLED.sub(" ", _SIDE_FIX.sub(lambda m: m[1], text))


# a rig's and a shot's numbers: distances, angles, times and frames ("~20 cm", "90°", "0.3 s
# apart", "at f12", "(f12, f21)", "48-frame loop") say nothing the planner reads, and their
# numbers were read as counts; the rig's own words ("IK goal", "effector", "root locked")
_MEASURE = re.compile(
    r"(?:\b(?:about|roughly|around|approx\.?|approximately)\s+)?[~\u2248\u00b1]?\s?\d+(?:\.\d+)?\s?"
    r"(?:(?:s|sec|secs|seconds?|ms|frames?)(?![\w-])(?:\s+(?:apart|per\s+\w+|long))?|"   # "0.3 s apart" is no parting
    r"(?:cm|mm|m|fps|\u00b0|deg|degrees?)(?![\w-]))"
    r"|\b(?:at|by|on|around|through|until|till|to)\s+f\d+\b|\(?\bf\d+(?:\s*(?:,|and|-|\u2013)\s*f?\d+)*\)?"
    r"|\b\d+-frame\b|\bin\s+\d+\s+frames?\b", re.IGNORECASE)
_RIG_WORDS = re.compile(r"\b(?:IK|FK)(?:\s+(?:goal|target|chain|off|on))?(?:\s+for)?\b|\beffector\b|"
                        r"\b(?:root|clavicle|hips?)\s+locked\b|\bin\s+character\s+space\b|\bgross\s+arm\s+only\b|"
                        r"\bno\s+finger\s+anim(?:ation)?\b", re.IGNORECASE)
# a bone or control named by its side: "Hand_R", "L_Hand", "V_R", "R_hand"
_BONE = re.compile(r"\b(?:(?P<part>hand|arm|wrist|elbow|v|fist|index)[_.](?P<side>[LR])|"
                   r"(?P<side2>[LR])[_.](?P<part2>hand|arm|wrist|elbow))\b", re.IGNORECASE)
# a pose named for a shape ("pointer pose", "5-handshape", "flat B", "S-fist", "index extended,
# thumb and other three curled")
_POSE = re.compile(r"\b(?:index|pointer|pointing)\s+(?:pose|finger\s+pose)\b|\b(?:fist|V)\s+pose\b|"
                   r"\b(?P<letter>[ABCLOSVY15])[- ]?handshape\b|\bflat\s+B\b|\bS-fist\b", re.IGNORECASE)
# (the grammar's own shapes are said finger by finger: "the index finger extended, the middle,
# ring and little fingers curled in"; those stay as written)
_INDEX_ONLY = re.compile(r"\b(?:index|pointer)(?:\s+finger)?\s+(?:only\b|(?:extended|out)\b"
                         r",?\s*(?:the\s+)?(?:thumb\s+and\s+)?(?:the\s+)?(?:others?|other\s+(?:three|fingers)|rest)"
                         r"(?:\s+fingers)?\s+curled(?:\s+in)?)", re.IGNORECASE)
# "N contacts", "two contact frames", "single contact": touches of the place, that many
_CONTACTS = re.compile(r"\b(one|single|two|three|four|2|3|4)\s+(?:(\w+)\s+)?contact(?:s|\s+frames|\s+hits)?\b",
                       re.IGNORECASE)
# places on the body in anatomy's words: the core place each is ("the frontal bone" the forehead)
_ANATOMY = {"forehead": re.compile(r"\b(?:the\s+)?frontal\s+bone\b", re.IGNORECASE),
            "chin": re.compile(r"\b(?:the\s+)?(?:mandible(?:\s+at\s+the\s+mental\s+protuberance)?|mental\s+protuberance)\b", re.IGNORECASE),
            "belly": re.compile(r"\b(?:the\s+)?(?:umbilicus|navel|belly[- ]?button)\b", re.IGNORECASE)}
_AXIS = re.compile(r"(?:\b(?:along|on|in|toward|towards)\s+)?(?<![\w-])(?P<sign>[+-])\s?(?P<axis>[XYZ])\b"
                   r"(?:\s*\([^)]*\))?(?:\s+in\s+character\s+space)?")


def _technical(text: str) -> str:
    """An animation professional's notes in plain words: numbers of the rig and shot dropped,
    bones by their side ("Hand_R" the right hand), poses by their shape, contacts counted as
    touches, places in anatomy's words by their names (``_ANATOMY``), and axes as ways: the up
    axis is Z where the text says Z is up (or Blender), else Y; forward is +Z where Y is up and
    -Y where Z is up; +X is the character's left."""
    z_up = re.search(r"\bZ[- ]?up\b|\bZ\s+is\s+up\b|\bblender\b", text, re.IGNORECASE) is not None

    def way(m):
        axis, plus = m["axis"].upper(), m["sign"] == "+"
        if axis == ("Z" if z_up else "Y"):
            return " up " if plus else " down "
        if axis == "X":
            return " to the left " if plus else " to the right "
        forward = plus if axis == "Z" else not plus
        return " forward " if forward else " back "

    text = _AXIS.sub(way, text)
    text = re.sub(r"\(?\b(?:[XYZ][- ]?(?:up|forward)(?:\s+rig)?|[XYZ]\s+is\s+up)\b\)?[.,]?", " ", text)
    text = _MEASURE.sub(" ", text)
    text = _RIG_WORDS.sub(" ", text)
    text = _BONE.sub(lambda m: ("left " if (m["side"] or m["side2"]).upper() == "L" else "right ")
                     + (m["part"] or m["part2"]).lower().replace("v", "V"), text)
    text = _POSE.sub(lambda m: LETTER_WORDS[m["letter"].upper()] if m["letter"] else
                     "index finger" if re.match(r"(?:index|pointer|pointing)", m[0], re.IGNORECASE) else
                     "fist" if re.search(r"fist", m[0], re.IGNORECASE) else
                     "V" if m[0][0] in "Vv" else "flat hand", text)
    text = _INDEX_ONLY.sub("index finger", text)
    for place, said in _ANATOMY.items():
        text = said.sub(f"the {place}", text)
    counts = {"one": "one", "single": "one", "2": "two", "3": "three", "4": "four"}
    return _CONTACTS.sub(lambda m: f"{counts.get(m[1].lower(), m[1])} {m[2] + ' ' if m[2] else ''}"
                         + ("touch" if m[1].lower() in ("one", "single") else "taps"), text)


def _repeats(text: str) -> str:
    """A word said again and again, that many times: "tap,tap" and "pat, pat, pat" are "tap 2
    times" and "pat 3 times"."""
    return _REPEATS.sub(lambda m: f"{m[1]} {len(re.findall(r'[a-z]+', m[0], re.IGNORECASE))} times", text)


def _arrows(text: str) -> str:
    """"↑" up, "↓" down; an arrow between two places "from one to the other" ("↓ forehead →
    chin": down from the forehead to the chin); an arrow to a place "to" it; an arrow to a way
    the next movement, but the first one after the hand alone ("L V ➡ forward": the left V
    forward)."""
    for marks, word in ((_UP, " up "), (_DOWN, " down ")):
        text = re.sub("[" + marks + "]", word, text)
    pieces = _ARROW.split(text)
    if len(pieces) == 1:
        return text
    out = pieces[0]
    for k, after in enumerate(pieces[1:]):
        place_after = _PLACE.match(after.lstrip())
        place_before = re.search(_PLACE.pattern + r"\s*$", out, re.IGNORECASE)
        if place_after and place_before:
            out = out[:place_before.start()] + " from " + out[place_before.start():] + " to " + after
        elif place_after:
            out = out + " to " + after
        elif _WAY.match(after) and k:
            out = out + ", then " + after
        else:
            out = out + " " + after
    return out


def _steps(text: str) -> str:
    """Numbered steps in turn: the first marker dropped, each later one "Then"."""
    marks = list(_STEP.finditer(text))
    firsts = {"1", "a"}
    if len(marks) < 2 or marks[0]["n"].lower() not in firsts:
        return text
    out, end = [], 0
    for k, m in enumerate(marks):
        out.append(text[end:m.start()].rstrip(" ,;."))
        out.append("" if k == 0 else ". Then ")
        end = m.end()
    out.append(text[end:])
    return "".join(out)


def _fields(text: str) -> str:
    """Two or more fields, not one to a sentence: a sentence of them ("With the left V hand,
    tap the stomach x2.")."""
    found = list(_FIELD.finditer(text))
    if len(found) < 2 or any(re.search(r"[.!?]", text[a.end():b.start()]) for a, b in zip(found, found[1:])):
        return text     # a sign-teacher's fields, one to a sentence, are read as they are
    got: dict[str, str] = {}
    for m in found:
        got.setdefault(_KEYS[m["key"].lower()], m["value"].strip(" .'\"").strip())
    side = _SIDES.get(got.get("hand", "").lower(), "")
    shape = _SHAPES.get(got.get("shape", "").lower(), f"{got['shape']} hand" if got.get("shape") else "hand")
    if side == "both":
        hand = f"both {_plural(shape)}"
    elif side.endswith("dominant"):   # "the non-dominant hand" is how the rules know it
        hand = f"the {side} hand" + (f" in a {shape}" if got.get("shape") else "")
    else:
        hand = " ".join(w for w in ("the", side, shape) if w)
    motion = got.get("motion", "")
    start, end = got.get("start", ""), got.get("end", "")
    if not motion and _WIDE.search(start) and _MEET.search(end):
        motion = "start apart and come together"
    elif not motion and _MEET.search(start) and _WIDE.search(end):
        motion = "start together and move apart"
    repeated = motion.replace(",", " ").split()
    if len(repeated) > 1 and len(set(w.lower() for w in repeated)) == 1:   # "tap,tap": tap twice
        motion = f"{repeated[0]} {len(repeated)} times"
    if got.get("count"):
        motion = f"{motion} {got['count']} times".strip()
    place = got.get("place", "")
    verb, _, rest = motion.partition(" ")
    if place and verb.lower().rstrip("s") in _VERBS:
        act = f"{verb} the {place} {rest}".strip()
    elif place:
        act = f"{motion or 'hold'} at the {place}"
    else:
        act = motion or "hold still"
    speed = {"slow": "slowly", "fast": "quickly", "quick": "quickly"}.get(got.get("speed", "").lower(), "")
    sentence = f"With {hand}, {act}{', ' + speed if speed else ''}."
    return sentence[0].upper() + sentence[1:]
