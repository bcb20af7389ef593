"""Redaction: the detectors' own examples, and a planted-PII corpus exported with --redact
from which nothing may survive, in any file of the bundle, the audio included."""
from __future__ import annotations

import json
import random
import re
import wave
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from assistant.archive import Archive
from assistant.archive.export import verify_bundle
from assistant.archive.redact import Redactor, config, number_spans
from assistant.cli import cli
from assistant.events import Finding, Utterance, Word
from assistant.files import file_digest

CFG = config()
ZH_NUM = "零一二三四五六七八九"
EN_NUM = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
SEPARATORS = set(CFG.separators) | {" "}


def canonical_digits(text: str) -> str:
    """Every way of writing a digit turned into an ASCII digit, separators dropped: a planted
    number survives redaction if its digits still appear here."""
    text = re.sub(r"(?i)\b(" + "|".join(w for w in CFG.numerals if w.isascii() and w.isalpha()) + r")\b",
                  lambda m: str(CFG.numerals[m.group().lower()]), text)
    out = []
    for ch in text:
        if ch in CFG.numerals:
            out.append(str(CFG.numerals[ch]))
        elif "\uff10" <= ch <= "\uff19":
            out.append(str(ord(ch) - 0xFF10))
        elif ch in SEPARATORS:
            continue
        else:
            out.append(ch)
    return "".join(out)


@pytest.mark.parametrize("line", CFG.examples["mask"])
def test_every_mask_example_is_masked(line):
    masked = Redactor().mask(line)
    assert masked != line
    assert not re.search(r"\d{4}", canonical_digits(masked)), masked
    assert number_spans(masked) == []


@pytest.mark.parametrize("line", CFG.examples["keep"])
def test_every_keep_example_is_left_alone(line):
    assert Redactor().mask(line) == line


def test_known_names_are_masked_whole_and_in_parts():
    r = Redactor(["李小明", "Maria Lopez"])
    assert r.mask("小明你好，李小明在吗") == "[NAME]你好，[NAME]在吗"
    assert r.mask("Is this Maria? Ms Lopez?") == "Is this [NAME]? [NAME]?"


# ---- the planted corpus ----------------------------------------------------------------------
def _digits(rng: random.Random, n: int, first: str = "123456789") -> str:
    return rng.choice(first) + "".join(rng.choice("0123456789") for _ in range(n - 1))


def _group(d: str, sizes: list[int], sep: str) -> str:
    out, pos = [], 0
    for size in sizes:
        out.append(d[pos : pos + size])
        pos += size
    return sep.join(out)


def _fullwidth(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in s)


def _zh_numerals(s: str, one: str = "幺") -> str:
    return "".join(one if c == "1" else ZH_NUM[int(c)] for c in s)


def plant(rng: random.Random) -> list[tuple[str, str, list[str]]]:
    """(format, text as written or spoken, words as an ASR would split it); the needle is the digits."""
    mobile = "1" + rng.choice("3456789") + _digits(rng, 9, "0123456789")
    birth = f"{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    ident = _digits(rng, 6) + birth + _digits(rng, 3, "0123456789") + rng.choice("0123456789X")
    landline = "0" + rng.choice(["10", "21", "755", "571"]) + _digits(rng, 8, "23456789")
    card = _digits(rng, 16, "3456")
    card19 = "62" + _digits(rng, 17, "0123456789")
    ssn = _digits(rng, 3, "1234567") + _digits(rng, 2) + _digits(rng, 4)
    us = _digits(rng, 3, "23456789") + _digits(rng, 3, "23456789") + _digits(rng, 4)
    area = len(landline) - 8
    items = [
        ("id", ident, [ident]),
        ("id spaced", _group(ident, [6, 4, 4, 4], " "), _group(ident, [6, 4, 4, 4], " ").split()),
        ("mobile", mobile, [mobile]),
        ("mobile spaced", _group(mobile, [3, 4, 4], " "), _group(mobile, [3, 4, 4], " ").split()),
        ("mobile dashed", _group(mobile, [3, 4, 4], "-"), [_group(mobile, [3, 4, 4], "-")]),
        ("mobile dotted", _group(mobile, [3, 4, 4], "."), [_group(mobile, [3, 4, 4], ".")]),
        ("mobile +86", "+86 " + _group(mobile, [3, 4, 4], " "), ["+86", *_group(mobile, [3, 4, 4], " ").split()]),
        ("mobile 0086", "0086" + mobile, ["0086" + mobile]),
        ("mobile full-width", _fullwidth(_group(mobile, [3, 4, 4], " ")), _fullwidth(_group(mobile, [3, 4, 4], " ")).split()),
        ("mobile numerals", _zh_numerals(mobile), [_zh_numerals(mobile[:3]), _zh_numerals(mobile[3:7]), _zh_numerals(mobile[7:])]),
        ("mobile numerals spaced", _group(_zh_numerals(mobile), [3, 4, 4], " "), _group(_zh_numerals(mobile), [3, 4, 4], " ").split()),
        ("mobile numerals commas", _group(_zh_numerals(mobile, "一"), [3, 4, 4], "，"), [_zh_numerals(mobile[:3], "一"), "，", _zh_numerals(mobile[3:7], "一"), "，", _zh_numerals(mobile[7:], "一")]),
        ("mobile numerals 杠", _group(_zh_numerals(mobile), [3, 4, 4], "杠"), [_group(_zh_numerals(mobile), [3, 4, 4], "杠")]),
        ("landline spaced", landline[:area] + " " + landline[area:], [landline[:area], landline[area:]]),
        ("landline brackets", f"({landline[:area]}){landline[area:]}", [f"({landline[:area]}){landline[area:]}"]),
        ("landline dashed", f"{landline[:area]}-{landline[area:area + 4]}-{landline[area + 4:]}", [f"{landline[:area]}-{landline[area:area + 4]}-{landline[area + 4:]}"]),
        ("card spaced", _group(card, [4, 4, 4, 4], " "), _group(card, [4, 4, 4, 4], " ").split()),
        ("card dashed", _group(card, [4, 4, 4, 4], "-"), [_group(card, [4, 4, 4, 4], "-")]),
        ("card 19", card19, [card19]),
        ("ssn dashed", _group(ssn, [3, 2, 4], "-"), [_group(ssn, [3, 2, 4], "-")]),
        ("ssn spaced", _group(ssn, [3, 2, 4], " "), _group(ssn, [3, 2, 4], " ").split()),
        ("us phone", f"({us[:3]}) {us[3:6]}-{us[6:]}", [f"({us[:3]})", f"{us[3:6]}-{us[6:]}"]),
        ("us phone dotted", _group(us, [3, 3, 4], "."), [_group(us, [3, 3, 4], ".")]),
        ("us phone +1", "+1 " + _group(us, [3, 3, 4], " "), ["+1", *_group(us, [3, 3, 4], " ").split()]),
        ("us phone spoken", " ".join(EN_NUM[int(c)] for c in us), [EN_NUM[int(c)] for c in us]),
        ("ip", f"10.{rng.randint(10, 250)}.{rng.randint(10, 250)}.{rng.randint(10, 250)}", None),
        ("email", f"user{_digits(rng, 5)}@example.com", None),
    ]
    out = []
    for fmt, text, words in items:
        out.append((fmt, text, words or [text]))
    return out


def needle(fmt: str, text: str) -> str:
    if fmt == "email":
        return text.split("@")[0]
    digits = canonical_digits(text)
    for prefix in ("+86", "0086", "+1"):
        if digits.startswith(prefix):
            digits = digits[len(prefix):]
    return digits[-9:] if fmt != "ip" else digits


def utterance(cid: str, seq: int, t0: float, before: list[str], item_words: list[str], after: list[str], joiner: str) -> Utterance:
    tokens = before + item_words + after
    words = tuple(Word(w, t0 + 0.3 * k, t0 + 0.3 * k + 0.25, 0.9) for k, w in enumerate(tokens))
    text = joiner.join(tokens)
    return Utterance(cid, seq, "customer" if seq % 2 else "agent", t0, t0 + 0.3 * len(tokens), text, words)


def noise_wav(path: Path, seconds: float, rate: int = 8000) -> np.ndarray:
    rng = np.random.default_rng(7)
    samples = (rng.normal(0, 0.2, (int(seconds * rate), 2)).clip(-1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return samples


def read_samples(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, w.getnchannels())


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Two calls (zh, en) with planted personal data in every field that can leave the archive."""
    rng = random.Random(20261204)
    tmp = tmp_path_factory.mktemp("pii")
    archive = Archive(tmp / "a.db")
    planted: list[tuple[str, str, str]] = []  # (where, format, needle)
    spans: list[tuple[float, float]] = []  # audio of planted items (call 1)
    for lang, debtor, agent in (("zh", "赵国强", "孙丽"), ("en", "Maria Lopez", "Sam Carter")):
        items = plant(rng) + plant(rng)  # every format twice, with other numbers
        phone = plant(rng)[2][1]
        ident = plant(rng)[0][1]
        cid = f"{lang}-call-{phone}"  # a call id made from a file name with a phone number in it
        audio = tmp / f"rec_{ident}.wav"
        seconds = 2.0 + 8.0 * (len(items) + 14)
        original = noise_wav(audio, seconds)
        case: dict = {"id": f"K-{ident}", "debtor_name": debtor, "debtor_ref": ident, "phone": phone, "institution": "诚信金融",
                "address": f"幸福路{_digits(rng, 3)}号, tel {_group(phone, [3, 4, 4], ' ')}", "emergency_contact": {"name": "王建", "phone": plant(rng)[2][1]}}
        agent_id = f"A-{plant(rng)[2][1]}"
        archive.start_call(cid, case=case, agent_id=agent_id, agent_name=agent, lang=lang)
        planted += [("call id", "mobile", phone), ("audio file name", "id", needle("id", ident)), ("case", "id", needle("id", ident)),
                    ("agent id", "mobile", agent_id[2:]), ("case", "name", debtor), ("agent", "name", agent),
                    ("case", "mobile", needle("mobile", case["emergency_contact"]["phone"])), ("case", "name", "王建")]
        archive.add_audio(cid, audio, sha256=file_digest(audio), duration=seconds, sample_rate=8000, channels=2)
        t, seq = 1.0, 0
        joiner = "" if lang == "zh" else " "
        before = ["我的", "号码", "是"] if lang == "zh" else ["my", "number", "is"]
        for fmt, text, words in items:  # inside text with word lists
            seq += 1
            u = utterance(cid, seq, t, before, words, ["好的"] if lang == "zh" else ["thanks"], joiner if fmt != "us phone spoken" else " ")
            archive.add_utterance(cid, u)
            spans += [(w.start, w.end) for w in u.words[len(before):len(before) + len(words)]] if lang == "zh" else []
            planted.append(("utterance", fmt, needle(fmt, text)))
            t += 8.0
        for fmt, text, words in items[:12]:  # ... and once more, the name and number in one line
            seq += 1
            name_words = [debtor] if lang == "zh" else debtor.split()
            u = utterance(cid, seq, t, name_words, words, [], joiner)
            archive.add_utterance(cid, u)
            finding = Finding("violation", "third_party_disclosure", "x.rule", "major", 0, len(u.text), u.text)
            archive.add_finding(cid, seq, finding)
            archive.add_suggestion(cid, seq, "zh.opening.self_id", f"{debtor}您好，回电请拨{text}")
            planted += [("finding+suggestion", fmt, needle(fmt, text))]
            t += 8.0
        archive.seal(cid)
        fpos = next(r["pos"] for t_, r in archive.records(cid) if t_ == "findings")
        note_item = items[rng.randrange(len(items))]
        archive.add_review(cid, fpos, "confirm", f"qa-{plant(rng)[2][1]}", f"客户电话 {note_item[1]}，身份证 {ident}")
        hold_item = items[rng.randrange(len(items))]
        archive.hold(cid, f"投诉人 {debtor} 电话 {hold_item[1]}")
        planted += [("review note", note_item[0], needle(note_item[0], note_item[1])), ("hold reason", hold_item[0], needle(hold_item[0], hold_item[1]))]
        if lang == "zh":
            zh_call, zh_audio, zh_original = cid, audio, original
    return {"archive": archive, "planted": planted, "tmp": tmp, "zh": (zh_call, zh_audio, zh_original, spans)}


def test_the_corpus_is_large_enough(corpus):
    assert len(corpus["planted"]) >= 150
    assert {fmt for _, fmt, _ in corpus["planted"]} >= {fmt for fmt, _, _ in plant(random.Random(0))}


def export(corpus, call_id: str, name: str) -> Path:
    out = corpus["tmp"] / name
    result = CliRunner().invoke(cli, ["archive", "--archive", str(corpus["tmp"] / "a.db"), "export", call_id, "--out", str(out), "--redact"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out


def test_nothing_planted_survives_anywhere_in_a_redacted_bundle(corpus):
    archive: Archive = corpus["archive"]
    texts = []
    for call in archive.calls():
        bundle = export(corpus, call["call_id"], f"{call['call_id'][:2]}.zip")
        assert verify_bundle(bundle) == []
        with zipfile.ZipFile(bundle) as z:
            for name in z.namelist():
                assert not re.search(r"\d{7}", name) and "rec_" not in name, name
                if not name.endswith(".wav"):
                    texts.append(z.read(name).decode("utf-8"))
        assert json.loads(zipfile.ZipFile(bundle).read("redaction.json"))["masked"]
    every = "\n".join(texts)
    flat = canonical_digits(every)
    survivors = [(where, fmt) for where, fmt, n in corpus["planted"] if (n in flat if n.isdigit() else n.lower() in every.lower())]
    assert survivors == []


def test_redacted_audio_replaces_the_spoken_items_and_keeps_the_rest(corpus):
    call_id, audio, original, spans = corpus["zh"]
    bundle = export(corpus, call_id, "zh-audio")
    wavs = list((bundle / "audio").glob("*.wav"))
    assert len(wavs) == 1 and audio.name not in wavs[0].name
    masked = read_samples(wavs[0])
    assert masked.shape == original.shape
    rate = 8000
    for start, end in spans:
        a, b = int(start * rate), int(end * rate)
        assert not np.array_equal(masked[a:b], original[a:b]), (start, end)
        assert np.corrcoef(masked[a:b, 0], original[a:b, 0])[0, 1] < 0.1
    keep = int(0.5 * rate)  # before the first utterance nothing is masked
    assert np.array_equal(masked[:keep], original[:keep])
    report = json.loads((bundle / "redaction.json").read_text(encoding="utf-8"))
    assert report["audio"][0]["masked_seconds"] > 0 and report["audio"][0]["original_sha256"]


def test_audio_without_word_times_is_refused_or_muted_whole(tmp_path):
    audio = tmp_path / "call.wav"
    original = noise_wav(audio, 10)
    a = Archive(tmp_path / "a.db")
    a.start_call("c", lang="zh")
    a.add_audio("c", audio, sha256=file_digest(audio), duration=10, sample_rate=8000, channels=2)
    a.add_utterance("c", Utterance("c", 1, "customer", 2.0, 4.0, "我的电话是13800138000"))
    a.seal("c")
    a.close()
    run = lambda *extra: CliRunner().invoke(cli, ["archive", "--archive", str(tmp_path / "a.db"), "export", "c", "--redact", *extra])
    refused = run("--out", str(tmp_path / "r.zip"))
    assert refused.exit_code == 2 and "no word times" in refused.output and "--mute-utterances" in refused.output
    assert not (tmp_path / "r.zip").exists()
    assert run("--out", str(tmp_path / "n.zip"), "--no-audio").exit_code == 0
    assert run("--out", str(tmp_path / "m"), "--mute-utterances").exit_code == 0
    masked = read_samples(next((tmp_path / "m" / "audio").glob("*.wav")))
    assert not np.array_equal(masked[2 * 8000 : 4 * 8000], original[2 * 8000 : 4 * 8000])
    assert np.array_equal(masked[: int(1.5 * 8000)], original[: int(1.5 * 8000)])


def test_the_search_would_find_the_planted_items_without_redaction(corpus):
    """The check above can fail: in a bundle exported without --redact the needles are found."""
    archive: Archive = corpus["archive"]
    texts = []
    for call in archive.calls():
        out = corpus["tmp"] / f"plain-{call['call_id'][:2]}"
        result = CliRunner().invoke(cli, ["archive", "--archive", str(corpus["tmp"] / "a.db"), "export", call["call_id"], "--out", str(out)])
        assert result.exit_code == 0, result.output
        texts += [p.read_text(encoding="utf-8") for p in out.rglob("*.json")]
    every = "\n".join(texts)
    flat = canonical_digits(every)
    found = [n for _, _, n in corpus["planted"] if (n in flat if n.isdigit() else n.lower() in every.lower())]
    assert len(found) >= 0.95 * len(corpus["planted"])
