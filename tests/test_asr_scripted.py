"""Scripted recognizer and segmenter: the layers above ASR without a speech model."""
from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest

from assistant.asr import ScriptedRecognizer, Segmenter, join_cjk, load_transcript
from assistant.audio import WavFileSource
from assistant.errors import TranscriptError
from assistant.events import Partial, Utterance

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "call_zh.jsonl"


def test_join_cjk_removes_only_spaces_between_chinese():
    assert join_cjk("你 不 还 钱 就 等 着") == "你不还钱就等着"
    assert join_cjk("我的 app 账号 ok") == "我的 app 账号 ok"
    assert join_cjk("  call your boss ") == "call your boss"


def test_partials_grow_before_the_final_and_times_increase():
    rows = [{"speaker": "agent", "start": 1.0, "end": 3.0, "text": "你再不还钱就等着坐牢吧"}]
    rec, seg = ScriptedRecognizer(rows, "agent"), Segmenter("c1")
    events = []
    for k in range(0, 40):
        for res in rec.advance(k * 0.1):
            events += seg.feed("agent", res)
    events += [e for r in rec.finish() for e in seg.feed("agent", r)]
    partials = [e for e in events if isinstance(e, Partial)]
    finals = [e for e in events if isinstance(e, Utterance)]
    assert len(partials) >= 3 and len(finals) == 1
    assert events.index(partials[-1]) < events.index(finals[0])
    assert all(len(a.text) < len(b.text) for a, b in zip(partials, partials[1:]))
    starts = [w.start for w in finals[0].words]
    assert starts == sorted(starts) and finals[0].text == "你再不还钱就等着坐牢吧"


def test_seq_numbers_the_call_across_speakers():
    _, rows = load_transcript(SAMPLE)
    seg = Segmenter("demo")
    recs = {s: ScriptedRecognizer(rows, s) for s in ("agent", "customer")}
    finals: list[Utterance] = []
    for t in np.arange(0, 40, 0.5):
        for speaker, rec in recs.items():
            finals += [e for r in rec.advance(float(t)) for e in seg.feed(speaker, r) if isinstance(e, Utterance)]
    assert [u.seq for u in finals] == list(range(1, len(rows) + 1))
    assert [u.speaker for u in finals] == [r["speaker"] for r in sorted(rows, key=lambda r: r["end"])]
    assert finals[0].to_dict()["words"] and 0 < finals[0].conf <= 1


def write_silence(path: Path, seconds: float) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x00" * 2 * int(8000 * seconds))
    return path


def test_wav_chunks_drive_recognizers_segmenter_and_checker(tmp_path, checker):
    """Stereo audio → per-channel recognizers → utterances → checker (final lines only)."""
    _, rows = load_transcript(SAMPLE)
    wav = write_silence(tmp_path / "call.wav", max(r["end"] for r in rows) + 0.5)
    recs = {s: ScriptedRecognizer(rows, s) for s in ("agent", "customer")}
    seg = Segmenter("demo")
    flagged: dict[str, set[str]] = {}
    for chunk in WavFileSource(wav):
        for res in recs[chunk.speaker].accept(chunk):
            for event in seg.feed(chunk.speaker, res):
                if isinstance(event, Utterance):
                    cats = {f.category for f in checker.check(event.text, event.speaker, lang="zh")}
                    flagged[f"{event.seq}:{event.speaker}"] = cats
    assert len(flagged) == len(rows)
    assert "threat_arrest" in flagged["5:agent"]
    assert {"hardship", "installment_request"} <= flagged["4:customer"]
    assert "promise_to_pay" in flagged["8:customer"]


@pytest.mark.parametrize(
    "line,words",
    [
        ("{not json", "invalid JSON"),
        (json.dumps({"speaker": "agent", "text": "hi"}), "missing start, end"),
        (json.dumps({"speaker": "robot", "start": 0, "end": 1, "text": "hi"}), "unknown speaker"),
    ],
)
def test_bad_transcript_lines(tmp_path, line, words):
    path = tmp_path / "t.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(TranscriptError, match=words):
        load_transcript(path)
