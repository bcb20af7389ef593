"""The recorded call fixtures: layout, channel map, expected findings, regeneration."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.asr import ScriptedRecognizer, Segmenter, load_transcript
from assistant.asr.stream import recognise
from assistant.asr.vosk import VoskRecognizer
from assistant.audio import WavFileSource, read_wav
from assistant.events import Utterance
from tests.conftest import require

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "recordings_fixtures"
CALLS = sorted(FIXTURES.glob("*/*.wav"))
SCENARIOS = ("refuse_to_sign", "already_repaid", "hardship_installments", "threats_and_insults")


def expected(wav: Path) -> dict:
    return json.loads(wav.with_name(f"{wav.stem}.expected.json").read_text(encoding="utf-8"))


def test_four_scenarios_in_each_language():
    for lang in ("zh", "en"):
        assert sorted(p.stem for p in (FIXTURES / lang).glob("*.wav")) == sorted(SCENARIOS)


@pytest.mark.parametrize("wav", CALLS, ids=lambda p: f"{p.parent.name}-{p.stem}")
def test_agent_left_customer_right_and_timings_match(wav):
    audio = read_wav(wav)
    assert audio.sample_rate == 8000 and len(audio.channels) == 2
    assert audio.duration < 40
    meta, rows = load_transcript(wav.with_suffix(".jsonl"))
    assert meta["channels"] == {"0": "agent", "1": "customer"} and meta["audio"] == wav.name
    assert rows[-1]["end"] <= audio.duration
    for row in rows:
        a, b = int(row["start"] * 8000), int(row["end"] * 8000)
        own = audio.channels[0 if row["speaker"] == "agent" else 1][a:b]
        other = audio.channels[1 if row["speaker"] == "agent" else 0][a:b]
        assert np.sqrt(np.mean(own**2)) > 0.05, row["text"]
        assert np.abs(other).max() < 0.01, f"crosstalk during {row['text']}"
    for a, b in zip(rows, rows[1:]):
        assert a["end"] < b["start"]  # turns do not overlap


@pytest.mark.parametrize("wav", CALLS, ids=lambda p: f"{p.parent.name}-{p.stem}")
def test_the_checker_finds_what_the_fixture_expects(wav, checker):
    want = expected(wav)
    meta, rows = load_transcript(wav.with_suffix(".jsonl"))
    assert [line["text"] for line in want["lines"]] == [r["text"] for r in rows]
    for line in want["lines"]:
        got = sorted({f.category for f in checker.check(line["text"], line["speaker"], lang=want["lang"])})
        assert got == line["categories"], f"{want['call']} #{line['seq']} {line['speaker']}: {line['text']}"


@pytest.mark.parametrize("wav", CALLS[:2], ids=lambda p: f"{p.parent.name}-{p.stem}")
def test_replaying_the_recording_with_the_scripted_recogniser_gives_the_expected_findings(wav, checker):
    """Audio → scripted recogniser per channel → segmenter → checker, no model needed."""
    want = expected(wav)
    _, rows = load_transcript(wav.with_suffix(".jsonl"))
    recs = {s: ScriptedRecognizer(rows, s) for s in ("agent", "customer")}
    utts = [e for e in recognise(WavFileSource(wav), recs, Segmenter(want["call"])) if isinstance(e, Utterance)]
    assert [u.text for u in utts] == [line["text"] for line in want["lines"]]
    for u, line in zip(utts, want["lines"]):
        assert u.speaker == line["speaker"] and u.seq == line["seq"]
        assert sorted({f.category for f in checker.check(u.text, u.speaker, lang=want["lang"])}) == line["categories"]


def test_the_fixtures_regenerate_identically():
    require(shutil.which("espeak-ng") is not None, "espeak-ng is not installed")
    done = subprocess.run([sys.executable, str(FIXTURES / "make_fixtures.py"), "--check"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_real_engine_keeps_each_party_on_its_channel(ko_model_dir):
    """Vosk (Korean model, so the words are wrong) on an English fixture: every
    utterance falls inside a turn of the speaker whose channel it came from."""
    wav = FIXTURES / "en" / "threats_and_insults.wav"
    _, rows = load_transcript(wav.with_suffix(".jsonl"))
    recs = {s: VoskRecognizer(ko_model_dir) for s in ("agent", "customer")}
    utts = [e for e in recognise(WavFileSource(wav), recs, Segmenter("c")) if isinstance(e, Utterance)]
    assert {u.speaker for u in utts} == {"agent", "customer"}
    for u in utts:
        turns = [r for r in rows if r["speaker"] == u.speaker]
        assert any(u.start < r["end"] + 0.3 and u.end > r["start"] - 0.3 for r in turns), (u.speaker, u.start, u.end)
