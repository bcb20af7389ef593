"""Chinese phrases matched by sound: a recogniser that writes a threat word with the wrong
character (法远 for 法院, 拘溜 for 拘留) still matches the rule.

Every character is read by its common, tone-less pinyin (``pypinyin``'s table, used when the
lexicon is built and cached, never at check time). A phrase matches a span whose characters
read the same, under a guard against chance: the phrase has at least :data:`MIN_CHARS`
characters, at least half of them are the very characters written (one or two slips,
not a different word that happens to sound alike), and what is written is not itself a
term of the lexicon.
"""
from __future__ import annotations

import unicodedata
from typing import Iterable

import ahocorasick

from assistant.text.normalize import is_cjk

MIN_CHARS = 4  # three-character terms misfired: 不要联(系) read as 不要脸
_BASE = 0xF0000  # supplementary private use area: one code point per syllable


def _toneless(reading: str) -> str:
    """``lǜ`` → ``lv``; ``zhōng`` → ``zhong``."""
    reading = reading.replace("ü", "v").replace("Ü", "v")
    return "".join(c for c in unicodedata.normalize("NFD", reading) if unicodedata.category(c) != "Mn").lower()


def build_table(phrases: Iterable[str]) -> dict[str, int]:
    """For every character that reads like a character of some phrase, its syllable id.

    Returns an empty table when ``pypinyin`` is not installed (matching by sound is off)."""
    try:
        from pypinyin.pinyin_dict import pinyin_dict
    except ImportError:
        return {}
    reading = {chr(code): _toneless(value.split(",")[0]) for code, value in pinyin_dict.items()}
    needed = sorted({reading[c] for p in phrases if len(p) >= MIN_CHARS for c in p if is_cjk(c) and c in reading})
    ids = {s: k for k, s in enumerate(needed)}
    return {ch: ids[s] for ch, s in reading.items() if s in ids}


class HomophoneMatcher:
    """Finds phrases by sound in normalised Chinese text."""

    def __init__(self, table: dict[str, int], phrases: Iterable[tuple[str, str]]) -> None:
        self.table = table
        self.automaton = ahocorasick.Automaton()
        count = 0
        phrases = list(phrases)
        self.known = {phrase for _, phrase in phrases}
        for key, phrase in phrases:
            if len(phrase) < MIN_CHARS or not all(c in table for c in phrase):
                continue
            sound = self.sound(phrase)
            existing = self.automaton.get(sound, ())
            self.automaton.add_word(sound, (*existing, (key, phrase)))
            count += 1
        self.empty = count == 0
        if not self.empty:
            self.automaton.make_automaton()

    def sound(self, text: str) -> str:
        """One code point per character: its syllable, or the character itself when no phrase reads like it."""
        table = self.table
        return "".join(chr(_BASE + table[c]) if c in table else c for c in text)

    def correct(self, text: str) -> str:
        """``text`` with every span that sounds like a known term (but is written with a slip)
        rewritten to that term; same length, so offsets stay valid. Longer terms win."""
        found = sorted(self.find(text), key=lambda hit: (-(hit[2] - hit[1]), hit[1]))
        if not found:
            return text
        chars = list(text)
        taken = [False] * len(text)
        for term, start, end in found:
            if any(taken[start:end]):
                continue
            chars[start:end] = term
            taken[start:end] = [True] * (end - start)
        return "".join(chars)

    def find(self, text: str) -> list[tuple[str, int, int]]:
        """``(key, start, end)`` of every phrase heard in ``text`` but written differently."""
        if self.empty:
            return []
        out = []
        for end, entries in self.automaton.iter(self.sound(text)):
            for key, phrase in entries:
                start = end - len(phrase) + 1
                written = text[start : end + 1]
                if written == phrase or written in self.known:
                    continue  # written as a term: the exact matchers have it
                if 2 * sum(a == b for a, b in zip(written, phrase)) >= len(phrase):
                    out.append((key, start, end + 1))
        return out
