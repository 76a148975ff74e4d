"""Prompt files, their seeds and the names of the takes made from them: one owner for every front end.

``signforge generate --prompts``, ``signforge render --prompts/--sentences`` (batch.py) and
the backend server all read prompt files and name their takes here, so a file means the
same thing and a take gets the same name whichever front end made it:

- a prompt file is UTF-8 text, one prompt a line; blank lines and lines starting with '#'
  are skipped; ``prompt<TAB>seed`` fixes that line's seed (``read_prompts``);
- lines without a seed take the run's seed, seed + 1... in order, never one the same prompt
  already has (``assign_seeds``), so repeated lines make different takes;
- a take is named ``<slug>-s<seed>`` (``<slug>-s<seed>-<k>`` for sample k of several drawn
  with one seed), the slug being the prompt's lower-case ASCII words (``take_name``).

Standard library only (Blender's Python and the backend import it); never bpy.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

from .errors import SignForgeError

MAX_SEED = 2 ** 63 - 1
SLUG_LIMIT = 40


class PromptsError(SignForgeError, ValueError):
    """A prompt file that cannot be used; one line naming the file, the line and what is wrong."""


class PromptLine(NamedTuple):
    number: int          # the line's number in its file, from 1
    text: str            # the prompt, stripped
    seed: int | None     # the seed after a tab, or None


def read_prompts(path: str | Path, what: str = "prompts") -> list[PromptLine]:
    """The prompts of a UTF-8 file (a byte-order mark is dropped), one per line; blank lines
    and lines starting with '#' are skipped; ``prompt<TAB>seed`` gives the line its seed.
    ``PromptsError`` names the line of a bad one, or says the file holds none; ``what`` names
    the file's lines in the messages (a sentences file's lines are read alike)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise PromptsError(f"{path}: no such file") from None
    except OSError as exc:
        raise PromptsError(f"{path}: cannot read the {what} file ({exc.strerror or exc})") from None
    out = []
    for number, line in enumerate(raw.splitlines(), 1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            raise PromptsError(f"{path}, line {number}: not UTF-8 text") from None
        if number == 1:
            text = text.removeprefix("\ufeff")
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        seed = None
        if "\t" in text.strip():
            text, _, field = text.rstrip().rpartition("\t")
            if not field.strip().isdigit() or int(field) > MAX_SEED:
                raise PromptsError(f"{path}, line {number}: the seed after the tab, {field.strip()!r}, is not a "
                                   f"whole number from 0 to {MAX_SEED}")
            seed = int(field)
            if not text.strip():
                raise PromptsError(f"{path}, line {number}: a seed with no prompt")
        text = text.strip()
        if not any(ch.isprintable() and not ch.isspace() for ch in text):
            raise PromptsError(f"{path}, line {number}: the prompt has no printable characters")
        bad = next((ch for ch in text if not ch.isprintable() and ch not in " \t"), None)
        if bad is not None:
            raise PromptsError(f"{path}, line {number}: the prompt holds the control character {bad!r}")
        out.append(PromptLine(number, text, seed))
    if not out:
        raise PromptsError(f"{path} holds no {what} (blank lines and lines starting with '#' are skipped)")
    return out


def assign_seeds(lines: list[tuple[str, int | None]], base: int, variants: int = 1) -> list[tuple[str, int, int]]:
    """(prompt, seed, variant) for each (prompt, seed or None) line and variant, in order. A
    line's own seed gives its variants seed, seed+1...; the others take base, base+1... in
    turn, skipping a seed the same prompt already has, so repeated lines never make the same
    take twice."""
    taken = {(p, s + v) for p, s in lines if s is not None for v in range(variants)}
    out, counter = [], base
    for prompt, seed in lines:
        for v in range(variants):
            if seed is not None:
                s = seed + v
            else:
                while (prompt, counter) in taken:
                    counter += 1
                s, counter = counter, counter + 1
                taken.add((prompt, s))
            out.append((prompt, s, v + 1))
    return out


def slug(text: str, limit: int = SLUG_LIMIT) -> str:
    """A file-name stem for a text: its lower-case ASCII words joined by '-' (``prompt`` if none)."""
    out = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].strip("-")
    return out or "prompt"


def take_name(text: str, seed: int, sample: int | None = None, tag: str = "") -> str:
    """The stem every front end names a take by: ``<slug>[-<tag>]-s<seed>``, and ``-<sample>``
    (from 1) for one of several samples drawn with one seed."""
    stem = slug(text) + (f"-{tag}" if tag else "") + f"-s{seed}"
    return stem if sample is None else f"{stem}-{sample}"


def take_names(text: str, seed: int, count: int, suffix: str = ".npz") -> list[str]:
    """File names for ``count`` samples drawn with one seed: ``take_name`` plus ``suffix``."""
    return [take_name(text, seed, None if count == 1 else k + 1) + suffix for k in range(count)]


class UniqueNames:
    """Hands out names once each: a name already given gets -2, -3... (two files, one name)."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def __call__(self, name: str) -> str:
        base, k = name, 2
        while name in self._seen:
            name, k = f"{base}-{k}", k + 1
        self._seen.add(name)
        return name
