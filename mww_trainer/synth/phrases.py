"""Text for synthesis: phrase normalisation, phonetic neighbours (hard negatives), ambient text,
and the short words of that text said alone.

The neighbour generator works on spelling with simple English letter-to-sound heuristics
(syllables split at vowel groups, tables of confusable consonants and vowels). It needs no
dictionary; when a phonemiser is passed in, candidates that espeak pronounces exactly like the
phrase are dropped as homophones.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable
from importlib import resources
from pathlib import Path

import numpy as np

from mww_trainer.errors import ConfigError

_NON_WORD = re.compile(r"[^a-z0-9']+")
_VOWELS = "aeiou"
_DIGRAPHS = ("tch", "ch", "sh", "th", "ph", "ck", "ng", "qu", "wh")
CALL_WORDS = ("hey", "hi", "okay", "ok", "hello", "say", "they", "yo", "oh", "play", "hay")
_CALL_SWAPS = ("hi", "okay", "hello", "say", "they", "a", "play", "hey there", "oh")
_CALL_ALIASES = {"ok": "okay", "okay": "ok", "hey": "hay", "hay": "hey"}
_ONSETS = ("b", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "w", "st", "tr", "pl")
_CONSONANT_SWAPS = {
    "b": ("p", "d", "v"),
    "c": ("g", "t", "p"),
    "ch": ("sh", "j", "t"),
    "ck": ("t", "p"),
    "d": ("t", "b", "g"),
    "f": ("v", "th", "p"),
    "g": ("k", "d", "b"),
    "h": ("", "f"),
    "j": ("ch", "y", "d"),
    "k": ("g", "t", "p"),
    "l": ("r", "w", "n"),
    "m": ("n", "b", "p"),
    "n": ("m", "ng", "d"),
    "ng": ("n", "m"),
    "p": ("b", "t", "m"),
    "ph": ("p", "th"),
    "r": ("l", "w"),
    "s": ("z", "sh", "th"),
    "sh": ("s", "ch"),
    "t": ("d", "p", "k"),
    "th": ("f", "t", "s"),
    "v": ("f", "b"),
    "w": ("r", "v"),
    "x": ("ks", "z", "sh"),
    "y": ("j", "w"),
    "z": ("s", "j"),
}
_VOWEL_SWAPS = {
    "a": ("e", "o", "u"),
    "e": ("a", "i", "o"),
    "i": ("e", "a", "o"),
    "o": ("a", "u", "e"),
    "u": ("o", "a", "i"),
    "ee": ("i", "a"),
    "oo": ("u", "o"),
    "ey": ("ee", "i", "ow"),
    "ay": ("ee", "ow"),
    "ou": ("o", "a"),
    "ea": ("i", "a"),
    "ai": ("i", "ee"),
}
_RESPELL = (("u", "ew"), ("er", "ur"), ("o", "oa"), ("a", "ay"), ("i", "ee"), ("c", "k"))
_ADD_SUFFIXES = ("s", "ing", "ed", "y")
_FILLERS = ("the", "my", "there", "you", "a")


def normalise(text: str) -> str:
    """Lower case, words only (apostrophes kept), single spaces."""
    return " ".join(_NON_WORD.sub(" ", text.lower()).split())


def compact(text: str) -> str:
    """The normalised letters with spaces and apostrophes removed."""
    return normalise(text).replace(" ", "").replace("'", "")


def contains_phrase(text: str, phrase: str) -> bool:
    """Whether ``phrase`` occurs in ``text`` as whole words (case and punctuation ignored)."""
    needle = normalise(phrase)
    return bool(needle) and f" {needle} " in f" {normalise(text)} "


def _units(word: str) -> list[str]:
    """Letters grouped into digraphs and vowel runs: ``computer`` -> c o m p u t e r."""
    out: list[str] = []
    i = 0
    while i < len(word):
        digraph = next((d for d in _DIGRAPHS if word.startswith(d, i)), None)
        if digraph:
            out.append(digraph)
            i += len(digraph)
        elif _is_vowel(word, i):
            j = i
            while j < len(word) and _is_vowel(word, j):
                j += 1
            out.append(word[i:j])
            i = j
        else:
            out.append(word[i])
            i += 1
    return out


def _is_vowel(word: str, i: int) -> bool:
    return word[i] in _VOWELS or (word[i] == "y" and i > 0)


def _unit_is_vowel(unit: str) -> bool:
    return unit[0] in _VOWELS or (unit[0] == "y" and len(unit) > 1)


def syllables(word: str) -> list[str]:
    """A spelling-based syllable split: V-CV, VC-CV (``computer`` -> com pu ter)."""
    units = _units(word)
    vowel_at = [i for i, u in enumerate(units) if _unit_is_vowel(u) or (u == "y" and i > 0)]
    if len(vowel_at) < 2:
        return [word]
    cuts = []
    for a, b in itertools.pairwise(vowel_at):
        gap = b - a - 1
        cuts.append(a + 1 if gap <= 1 else a + 2)
    bounds = [0, *cuts, len(units)]
    return ["".join(units[s:e]) for s, e in itertools.pairwise(bounds) if e > s]


def _replace_word(words: list[str], i: int, new: str) -> str:
    return " ".join([*words[:i], new, *words[i + 1 :]])


def _partials(words: list[str]) -> list[str]:
    n = len(words)
    out = [" ".join(words[s:e]) for s in range(n) for e in range(s + 1, n + 1) if e - s < n]
    for i, word in enumerate(words):
        syl = syllables(word)
        if len(syl) >= 2:
            out += [_replace_word(words, i, "".join(syl[:-1])), "".join(syl[1:])]
    return out


def _prefix_swaps(words: list[str]) -> list[str]:
    if words[0] in CALL_WORDS:
        same = {words[0], _CALL_ALIASES.get(words[0], words[0])}
        return [" ".join([swap, *words[1:]]) for swap in _CALL_SWAPS if swap not in same]
    return _onset_swaps(words, only_first=True)


def _onset_swaps(words: list[str], only_first: bool = False) -> list[str]:
    out = []
    for i, word in enumerate(words[:1] if only_first else words):
        units = _units(word)
        k = next((j for j, u in enumerate(units) if _unit_is_vowel(u)), len(units))
        onset, rest = "".join(units[:k]), "".join(units[k:])
        if not rest:
            continue
        out += [_replace_word(words, i, o + rest) for o in _ONSETS if o != onset]
    return out


def _unit_edits(words: list[str], table: dict[str, tuple[str, ...]]) -> list[str]:
    out = []
    for i, word in enumerate(words):
        units = _units(word)
        for j, unit in enumerate(units):
            for new in table.get(unit, ()):
                edited = "".join([*units[:j], new, *units[j + 1 :]])
                if edited:
                    out.append(_replace_word(words, i, edited))
    return out


def _respell(chunk: str) -> list[str]:
    out = [chunk + "e"] if chunk[-1] not in _VOWELS + "y" else []
    out += [chunk.replace(a, b, 1) for a, b in _RESPELL if a in chunk]
    return out


def _splits(words: list[str]) -> list[str]:
    out = []
    for i, word in enumerate(words):
        syl = syllables(word)
        for k in range(1, len(syl)):
            left, right = "".join(syl[:k]), "".join(syl[k:])
            for lv in [left, *_respell(left)]:
                for rv in [right, *_respell(right)]:
                    out.append(_replace_word(words, i, f"{lv} {rv}"))
    return out


def _merges(words: list[str]) -> list[str]:
    out = []
    for i in range(len(words) - 1):
        a, b = words[i], words[i + 1]
        head, tail = words[:i], words[i + 2 :]
        for merged in (a[:-1] + b, a + b[1:], a + "a" + b):
            out.append(" ".join([*head, merged, *tail]))
    return out


def _suffix_edits(words: list[str]) -> list[str]:
    out = []
    for i, word in enumerate(words):
        if len(word) < 4:
            continue
        stems = [word[:-k] for k in (1, 2) if len(word) - k >= 3]
        new = stems + [word + s for s in _ADD_SUFFIXES]
        new += [stem + s for stem in stems for s in ("ing", "ed", "s")]
        out += [_replace_word(words, i, w) for w in new]
    return out


def _insertions(words: list[str]) -> list[str]:
    return [
        " ".join([*words[:i], filler, *words[i:]])
        for i in range(1, len(words))
        for filler in _FILLERS
    ]


_GENERATORS: tuple[Callable[[list[str]], list[str]], ...] = (
    _partials,
    _prefix_swaps,
    lambda w: _unit_edits(w, _CONSONANT_SWAPS),
    _onset_swaps,
    _suffix_edits,
    lambda w: _unit_edits(w, _VOWEL_SWAPS),
    _splits,
    _insertions,
    _merges,
)


def phonetic_neighbours(
    phrase: str,
    count: int,
    rng: np.random.Generator,
    *,
    phonemise: Callable[[list[str]], list[str]] | None = None,
) -> list[str]:
    """Up to ``count`` distinct texts that sound close to ``phrase`` but are not it.

    Candidates come from word dropping and syllable truncation, call-word swaps ("hey" ->
    "okay"), consonant and vowel substitutions ("computer" -> "commuter"), onset swaps (near
    rhymes), suffix edits ("computers", "compute"), word splits with respelling ("come pewter"),
    inserted filler words and merged words. Categories are drawn round-robin so a small
    ``count`` still covers every kind of edit. Never returns the phrase itself, a re-spacing of
    it, or any text that contains it; with ``phonemise`` (texts -> phoneme strings), also never
    a text pronounced exactly like it.
    """
    words = normalise(phrase).split()
    if not words:
        raise ConfigError("phrase: an empty phrase cannot be synthesised (give some words)")
    if count <= 0:
        return []
    pools = _candidate_pools(words, phrase)
    if phonemise is not None:
        pools = _drop_homophones(pools, phrase, phonemise)
    for pool in pools:
        rng.shuffle(pool)
    out: list[str] = []
    while len(out) < count and any(pools):
        for pool in pools:
            if pool and len(out) < count:
                out.append(pool.pop())
    return out


def _candidate_pools(words: list[str], phrase: str) -> list[list[str]]:
    seen = {normalise(phrase), compact(phrase)}
    pools = []
    for generate in _GENERATORS:
        pool = []
        for cand in generate(words):
            cand = normalise(cand)
            if not cand or cand in seen or compact(cand) in seen:
                continue
            if contains_phrase(cand, phrase):
                continue
            seen.add(cand)
            seen.add(compact(cand))
            pool.append(cand)
        pools.append(pool)
    return pools


def _drop_homophones(
    pools: list[list[str]], phrase: str, phonemise: Callable[[list[str]], list[str]]
) -> list[list[str]]:
    flat = [c for pool in pools for c in pool]
    sounds = phonemise([normalise(phrase), *flat])
    target, by_text = sounds[0], dict(zip(flat, sounds[1:], strict=True))
    return [[c for c in pool if by_text[c] != target] for pool in pools]


def load_sentences(language: str, path: Path | None = None) -> list[str]:
    """Sentences for ambient speech: ``path`` (one per line) or the built-in corpus."""
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"ambient text {path}: cannot be read ({exc.strerror})") from exc
    else:
        resource = resources.files("mww_trainer.synth") / f"ambient_{language}.txt"
        if not resource.is_file():
            raise ConfigError(
                f"language {language!r}: there is no built-in ambient text; pass a text file "
                "with one sentence per line (--ambient-text), or set --ambient-minutes 0"
            )
        text = resource.read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def safe_sentences(sentences: Iterable[str], phrase: str) -> list[str]:
    """The sentences that do not contain ``phrase``; an error if none is left."""
    kept = [s for s in sentences if normalise(s) and not contains_phrase(s, phrase)]
    if not kept:
        raise ConfigError(
            f"ambient text: every sentence contains the phrase {phrase!r}; "
            "give a text with other sentences"
        )
    return kept


# Words said alone are short: one or two syllables ("no", "seven", "up").
_SINGLE_WORD_SYLLABLES = 2


def single_words(
    sentences: Iterable[str],
    phrase: str,
    *,
    phonemise: Callable[[list[str]], list[str]] | None = None,
) -> list[str]:
    """The short words of ``sentences`` (one or two syllables), sorted, to be said alone.

    People say such words alone all day ("no", "two", "up", "wait"), and a model that heard
    only its wake word alone wakes on them. Never a word of ``phrase``; with ``phonemise``,
    never a word pronounced exactly like the phrase.
    """
    own = set(normalise(phrase).split())
    words = sorted(
        {
            w
            for s in sentences
            for w in normalise(s).split()
            if w not in own and len(syllables(w.replace("'", ""))) <= _SINGLE_WORD_SYLLABLES
        }
    )
    if phonemise is not None and words:
        words = _drop_homophones([words], phrase, phonemise)[0]
    return words
