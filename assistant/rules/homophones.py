"""Chinese terms heard with a slip: a recogniser that writes a threat word with the wrong
character (法远 for 法院, 拘溜 for 拘留) still matches the rule.

Every character is read by its common, tone-less pinyin (``pypinyin``'s and ``jieba``'s
tables are used when the lexicon is built and cached, never at check time). A span is
rewritten to a term when it reads the same — any of the lexicon's terms of :data:`MIN_CHARS`
or more characters, or one of the curated short key terms with one slip — under a guard
against chance: at least half of the characters are the very ones written, what is written
is not itself a term, and a slipped character at the span's edge does not make a word with
its neighbour.
"""
from __future__ import annotations

import unicodedata
from typing import Any, Iterable

import ahocorasick

from assistant.text.normalize import is_cjk, longest_first

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
    Empty without ``pypinyin``/``jieba``, or without terms."""
    if not terms:
        return {}, frozenset()
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


def lexicon_terms(phrases: Iterable[str], gates: dict[str, Any]) -> set[str]:
    """The Chinese terms a lexicon matches on: its normalised phrases and the literals its
    regexes need (the table is built from these, and the matcher corrects towards them)."""
    literals = (lit for gate in gates.values() for lit in gate or ())
    return {t for t in (*phrases, *literals) if t and all(is_cjk(c) for c in t)}


def _slip_makes_word(text: str, start: int, end: int, term: str, words: frozenset[str]) -> bool:
    """Whether a slipped character at an edge of ``text[start:end]`` (read as ``term``) makes
    a word with the character beyond it: 十几个 is not 是 + 几个, 老来得子 is not 老赖 + 得子."""
    written = text[start:end]
    if written[0] != term[0] and start > 0 and text[start - 1] + written[0] in words:
        return True
    return written[-1] != term[-1] and end < len(text) and written[-1] + text[end] in words


class HomophoneMatcher:
    """Corrects, in normalised Chinese text, the lexicon's terms heard with a slip: terms of
    :data:`MIN_CHARS` or more characters by sound (``table``), and the curated key terms by
    their listed one-slip variants (``slips``). ``words`` are two-character words, for the
    edge guard."""

    def __init__(self, table: dict[str, int], terms: Iterable[str], slips: dict[str, str] | None = None,
                 words: frozenset[str] = frozenset()) -> None:
        self.table = table
        self.words = words
        self.known = set(terms)
        self.by_sound = ahocorasick.Automaton()
        for term in sorted(self.known):
            if len(term) >= MIN_CHARS and all(c in table for c in term):
                sound = self.sound(term)
                self.by_sound.add_word(sound, (*self.by_sound.get(sound, ()), term))
        self.by_slip = ahocorasick.Automaton()
        for variant, term in (slips or {}).items():
            self.by_slip.add_word(variant, (term,))
        for automaton in (self.by_sound, self.by_slip):
            if len(automaton):
                automaton.make_automaton()

    def sound(self, text: str) -> str:
        """One code point per character: its syllable, or the character itself when no term reads like it."""
        table = self.table
        return "".join(chr(_BASE + table[c]) if c in table else c for c in text)

    def find(self, text: str) -> list[tuple[int, int, str]]:
        """``(start, end, term)`` of every term heard in ``text`` but written with a slip."""
        out = []
        for automaton, key in ((self.by_sound, self.sound(text)), (self.by_slip, text)):
            if not len(automaton):
                continue
            for last, terms in automaton.iter(key):
                for term in terms:
                    start, end = last - len(term) + 1, last + 1
                    written = text[start:end]
                    if written in self.known or 2 * sum(a == b for a, b in zip(written, term)) < len(term):
                        continue  # written as a term (the exact matchers have it), or too unlike it
                    if not _slip_makes_word(text, start, end, term, self.words):
                        out.append((start, end, term))
        return out

    def correct(self, text: str) -> str:
        """``text`` with every slip rewritten to its term; same length, so offsets stay valid.
        Longer terms win."""
        found = longest_first(self.find(text))
        if not found:
            return text
        chars = list(text)
        for start, end, term in found:
            chars[start:end] = term
        return "".join(chars)
