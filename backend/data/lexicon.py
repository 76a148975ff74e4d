"""ASL-LEX 2.0 lexicon reader: typed entries, coverage report and word -> variant candidates.

The CSV is not valid UTF-8 (a few translation cells hold mojibake), so it is read as
Latin-1, which never fails, and translation tokens that are not plain text are dropped.
Every row becomes an entry or a listed problem; nothing is dropped silently. numpy-free,
torch-free, bpy-free.
"""
from __future__ import annotations

import csv
import io
import math
import os
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from blender_addon.core.errors import SignForgeError

# The development copy sits beside the repository (../shared/data/...); anywhere else, the
# user names the file. SignForge does not ship ASL-LEX: WHERE_TO_GET says where it comes from.
DEFAULT_LEXICON = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "asl-lex" / "signdata.csv"
ENV_LEXICON = "SIGNFORGE_LEXICON"
WHERE_TO_GET = ("ASL-LEX 2.0 is not part of SignForge: get its signdata.csv from the ASL-LEX project "
                "(https://asl-lex.org; the file data-analysis/scripts/data/signdata_updated11-18.csv of "
                "https://github.com/ASL-LEX/asl-lex), licensed CC BY-NC 4.0, and give its path with --lexicon "
                f"or ${ENV_LEXICON}")

PHONOLOGY_FIELDS = (
    "Handshape", "SelectedFingers", "Flexion", "FlexionChange", "Spread", "SpreadChange",
    "ThumbPosition", "ThumbContact", "SignType", "Movement", "RepeatedMovement",
    "MajorLocation", "MinorLocation", "SecondMinorLocation", "Contact",
    "NonDominantHandshape", "UlnarRotation",
)
REQUIRED_COLUMNS = ("EntryID", "LemmaID", "SignDuration(ms)") + tuple(f"{f}.2.0" for f in PHONOLOGY_FIELDS)
# Candidate words come from these (as in the paper's gloss -> dictionary-variant mapping);
# SignBank's wider list is kept only to keep every English name out of generated text.
TRANSLATION_COLUMNS = ("DominantTranslation", "NondominantTranslations")
SIGNBANK_COLUMN = "SignBankEnglishTranslations"
MAX_MORPHEMES = 6
_PLAIN = re.compile(r"^[a-z0-9][a-z0-9 '\-./()]*$")


class LexiconError(SignForgeError, ValueError):
    """The lexicon file cannot be read at all (missing, empty, wrong columns)."""


@dataclass(frozen=True)
class Phonology:
    """One morpheme's ASL-LEX 2.0 phonological coding, as strings ('NA' where not coded)."""
    handshape: str
    selected_fingers: str
    flexion: str
    flexion_change: str
    spread: str
    spread_change: str
    thumb_position: str
    thumb_contact: str
    sign_type: str
    movement: str
    repeated_movement: str
    major_location: str
    minor_location: str
    second_minor_location: str
    contact: str
    nondominant_handshape: str
    ulnar_rotation: str

    @property
    def repeated(self) -> bool:
        return self.repeated_movement == "1"

    @property
    def has_contact(self) -> bool:
        return self.contact == "1"

    def as_dict(self) -> dict[str, str]:
        return {f: getattr(self, _FIELD_ATTR[f]) for f in PHONOLOGY_FIELDS}


_FIELD_ATTR = dict(zip(PHONOLOGY_FIELDS, Phonology.__dataclass_fields__))


@dataclass(frozen=True)
class Entry:
    entry_id: str
    lemma_id: str
    translations: tuple[str, ...]          # lower-case English words and phrases
    signbank_translations: tuple[str, ...]  # SignBank's English list (never in free text)
    duration_ms: float
    morphemes: tuple[Phonology, ...]       # M1 first; compounds have more
    row: int                               # 1-based data row in the file
    # The dictionary clip's own timing (ms; NaN when not coded): the sign starts at
    # ``onset_ms`` into a clip of ``clip_ms`` that began at rest, and ends at ``offset_ms``.
    onset_ms: float = float("nan")
    offset_ms: float = float("nan")
    clip_ms: float = float("nan")

    @property
    def approach_ms(self) -> float:
        """How long the clip takes from its start (at rest) to the sign: NaN when not coded."""
        return self.onset_ms if 0 < self.onset_ms < 5000 else float("nan")

    @property
    def return_ms(self) -> float:
        """How long the clip runs after the sign (back toward rest): NaN when not coded."""
        after = self.clip_ms - self.offset_ms
        return after if 0 < after < 5000 else float("nan")

    @property
    def phonology(self) -> Phonology:
        return self.morphemes[0]

    @property
    def lemma_word(self) -> str:
        return _base_word(self.lemma_id)

    @property
    def names(self) -> set[str]:
        """Every English name of this sign: what the free text must never say."""
        return {_base_word(self.entry_id), self.lemma_word, *self.translations,
                *self.signbank_translations}


def _base_word(identifier: str) -> str:
    return re.sub(r"(_\d+)+$", "", identifier.split("@")[0]).replace("_", " ").lower()


@dataclass
class Lexicon:
    entries: list[Entry]
    problems: list[tuple[int, str, str]] = field(default_factory=list)  # (row, entry id, reason)
    notes: list[tuple[int, str, str]] = field(default_factory=list)     # kept, but worth knowing
    path: str = ""

    def __len__(self) -> int:
        return len(self.entries)

    def by_id(self) -> dict[str, Entry]:
        return {e.entry_id: e for e in self.entries}

    def word_candidates(self) -> dict[str, list[str]]:
        """English word -> every entry whose LemmaID or translations contain it."""
        table: dict[str, set[str]] = defaultdict(set)
        for e in self.entries:
            for w in {e.lemma_word, _base_word(e.entry_id), *e.translations}:
                if w:
                    table[w].add(e.entry_id)
        return {w: sorted(ids) for w, ids in sorted(table.items())}

    def value_counts(self) -> dict[str, Counter]:
        counts: dict[str, Counter] = {f: Counter() for f in PHONOLOGY_FIELDS}
        for e in self.entries:
            for m in e.morphemes:
                for f, v in m.as_dict().items():
                    counts[f][v] += 1
        return counts


def _split_translations(cells: list[str]) -> tuple[str, ...]:
    out = []
    for cell in cells:
        for token in cell.split(","):
            token = token.strip().lower()
            if token and _PLAIN.match(token) and not token.startswith("cl-"):
                out.append(token)
    return tuple(dict.fromkeys(out))


def _morpheme(row: dict[str, str], k: int) -> Phonology | None:
    suffix = ".2.0" if k == 1 else f"M{k}.2.0"
    values = [(row.get(f"{f}{suffix}") or "").strip() for f in PHONOLOGY_FIELDS]
    if k > 1 and all(v in ("", "NA") for v in values):
        return None
    return Phonology(*[v if v else "NA" for v in values])


def _ms(cell: str | None) -> float:
    """A milliseconds cell: its number, or NaN when empty or not a number."""
    try:
        value = float(cell or "nan")
    except ValueError:
        return float("nan")
    return value if math.isfinite(value) else float("nan")


def resolve_lexicon_path(path: str | os.PathLike | None = None) -> Path:
    """The given path, else $SIGNFORGE_LEXICON, else ../shared beside the repository."""
    if path or os.environ.get(ENV_LEXICON):
        return Path(path or os.environ[ENV_LEXICON])
    return DEFAULT_LEXICON


def read_lexicon(path: str | os.PathLike | None = None) -> Lexicon:
    """Read ASL-LEX 2.0's signdata.csv. Bad rows become listed problems, not crashes."""
    path = resolve_lexicon_path(path)
    if not path.exists():
        raise LexiconError(f"{path}: no such file. {WHERE_TO_GET}")
    text = path.read_bytes().decode("latin-1")
    if not text.strip():
        raise LexiconError(f"{path}: the file is empty")
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise LexiconError(f"{path}: not an ASL-LEX 2.0 signdata file; missing columns "
                           f"{', '.join(missing[:6])}{' ...' if len(missing) > 6 else ''}")
    lex = Lexicon([], path=str(path))
    seen: set[str] = set()
    for i, row in enumerate(reader, start=1):
        entry_id = (row.get("EntryID") or "").strip()
        if not entry_id:
            lex.problems.append((i, "", "empty EntryID"))
            continue
        if entry_id in seen:  # a second sign under the same id: keep it, named by its row
            lex.notes.append((i, entry_id, f"duplicate EntryID, kept as {entry_id}@{i}"))
            entry_id = f"{entry_id}@{i}"
        try:
            duration = float(row.get("SignDuration(ms)") or "nan")
        except ValueError:
            duration = float("nan")
        if not duration > 0:
            lex.problems.append((i, entry_id, f"SignDuration(ms) is {row.get('SignDuration(ms)')!r}"))
            continue
        morphemes = [m for k in range(1, MAX_MORPHEMES + 1) if (m := _morpheme(row, k)) is not None]
        seen.add(entry_id)
        lex.entries.append(Entry(
            entry_id=entry_id,
            lemma_id=(row.get("LemmaID") or entry_id).strip(),
            translations=_split_translations([row.get(c) or "" for c in TRANSLATION_COLUMNS]),
            signbank_translations=_split_translations([row.get(SIGNBANK_COLUMN) or ""]),
            duration_ms=duration,
            morphemes=tuple(morphemes),
            row=i,
            onset_ms=_ms(row.get("SignOnset(ms)")),
            offset_ms=_ms(row.get("SignOffset(ms)")),
            clip_ms=_ms(row.get("ClipDuration(ms)")),
        ))
    return lex
