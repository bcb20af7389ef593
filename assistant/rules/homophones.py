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
COMMON_CHAR = 1000  # a character's summed word frequency in jieba's dictionary to count as a likely slip
WORD_FREQ = 3  # a two-character string at least this frequent in jieba's dictionary is a word
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


def build_slips(terms: Iterable[str]) -> tuple[dict[str, str], frozenset[str]]:
    """Short key terms (``sound_terms`` in ``_language.yaml``: 法院, 拘留, 征信 …) with one
    character replaced by a common homophone — 法远, 拘溜, 征性 — that is not a word itself,
    mapped to the term; plus jieba's two-character words, to tell whether a slipped
    character at a term's edge makes a word with its neighbour (报经理 is not 报警 + 理). Only curated key
    terms: with every literal of the rules, ordinary words were rewritten (这是 → 这事).
    Empty without ``pypinyin``/``jieba``."""
    try:
        import jieba
        from pypinyin.pinyin_dict import pinyin_dict
    except ImportError:
        return {}, frozenset()
    jieba.setLogLevel(60)
    jieba.initialize()
    freq: dict[str, int] = jieba.dt.FREQ
    char_freq: dict[str, int] = {}
    for word, f in freq.items():
        if f:
            for c in word:
                char_freq[c] = char_freq.get(c, 0) + f
    reading = {chr(code): _toneless(value.split(",")[0]) for code, value in pinyin_dict.items()}
    by_sound: dict[str, list[str]] = {}
    for ch, syllable in reading.items():
        if is_cjk(ch) and char_freq.get(ch, 0) >= COMMON_CHAR:
            by_sound.setdefault(syllable, []).append(ch)
    slips: dict[str, str] = {}
    ambiguous: set[str] = set()
    short = sorted({t for t in terms if 2 <= len(t) and all(is_cjk(c) for c in t)})
    known = set(short)
    for term in short:
        for i, ch in enumerate(term):
            for other in by_sound.get(reading.get(ch, ""), ()):
                if other == ch:
                    continue
                variant = term[:i] + other + term[i + 1 :]
                if freq.get(variant, 0) or variant in known:
                    continue  # a word (or a term) in its own right
                if slips.get(variant, term) != term:
                    ambiguous.add(variant)
                slips[variant] = term
    for variant in ambiguous:
        del slips[variant]
    words = frozenset(w for w, f in freq.items() if len(w) == 2 and f >= WORD_FREQ)
    return slips, words


class SlipCorrector:
    """Rewrites key terms heard with one character slip (see :func:`build_slips`), unless
    the slipped character makes a word with its neighbour outside the term."""

    def __init__(self, slips: dict[str, str], words: frozenset[str]) -> None:
        self.words = words
        self.automaton = ahocorasick.Automaton()
        for variant, term in slips.items():
            at = next(i for i in range(len(variant)) if variant[i] != term[i])
            self.automaton.add_word(variant, (term, at))
        self.empty = not slips
        if not self.empty:
            self.automaton.make_automaton()

    def find(self, text: str) -> list[tuple[str, int, int]]:
        """``(term, start, end)`` of every slip worth correcting."""
        if self.empty:
            return []
        out = []
        for end, (term, at) in self.automaton.iter(text):
            start = end - len(term) + 1
            i = start + at
            if i == start and start > 0 and text[start - 1] + text[i] in self.words:
                continue
            if i == end and end + 1 < len(text) and text[i] + text[end + 1] in self.words:
                continue
            out.append((term, start, end + 1))
        return out


class HomophoneMatcher:
    """Finds phrases by sound in normalised Chinese text."""

    def __init__(self, table: dict[str, int], phrases: Iterable[tuple[str, str]], slips: SlipCorrector | None = None) -> None:
        self.table = table
        self.slips = slips
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

    def _edge_word(self, text: str, start: int, end: int, written: str, term: str) -> bool:
        """Whether a slipped character at the span's edge makes a word with the character
        beyond it (这边十几个 is not 这边是 + 几个; 任何人 is not 的人 + 何人)."""
        words = self.slips.words if self.slips is not None else frozenset()
        if written[0] != term[0] and start > 0 and text[start - 1] + written[0] in words:
            return True
        return written[-1] != term[-1] and end < len(text) and written[-1] + text[end] in words

    def sound(self, text: str) -> str:
        """One code point per character: its syllable, or the character itself when no phrase reads like it."""
        table = self.table
        return "".join(chr(_BASE + table[c]) if c in table else c for c in text)

    def correct(self, text: str) -> str:
        """``text`` with every span that sounds like a known term (but is written with a slip)
        rewritten to that term; same length, so offsets stay valid. Longer terms win."""
        hits = self.find(text) + (self.slips.find(text) if self.slips is not None else [])
        found = sorted(hits, key=lambda hit: (-(hit[2] - hit[1]), hit[1]))
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
                if 2 * sum(a == b for a, b in zip(written, phrase)) < len(phrase):
                    continue
                if self._edge_word(text, start, end + 1, written, phrase):
                    continue
                out.append((key, start, end + 1))
        return out
