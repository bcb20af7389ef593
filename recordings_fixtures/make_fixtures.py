"""Regenerate the recorded call fixtures from scenarios.yaml with espeak-ng.

Usage (from the project root):

    python recordings_fixtures/make_fixtures.py            # rewrite every fixture
    python recordings_fixtures/make_fixtures.py --check    # regenerate into a temp dir and compare

Each line is spoken on its speaker's channel (agent LEFT, customer RIGHT), turns follow
each other with a short pause, and the audio is written as 8 kHz stereo 16-bit PCM
(telephone quality, and small). The reference transcript carries the exact placement
of every line, so it is the ground truth for timing as well as for text.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np
import yaml

from assistant.audio.resample import resample, to_pcm16
from assistant.audio.tts import speak

HERE = Path(__file__).resolve().parent
SPEECH_RATE = 16_000
FILE_RATE = 8_000
LEAD, GAP, TAIL = 0.3, 0.5, 1.0  # seconds: before the first line, between turns, after the last
WORDS_PER_MINUTE = {"zh": 270, "en": 195}  # brisk, like a call, and keeps the files small
CHANNEL = {"agent": 0, "customer": 1}


def trim(samples: np.ndarray, threshold: float = 0.01) -> np.ndarray:
    """Cut espeak-ng's leading and trailing silence."""
    loud = np.flatnonzero(np.abs(samples) > threshold)
    return samples[loud[0] : loud[-1] + 1] if loud.size else samples[:0]


def build(scenario: dict) -> tuple[np.ndarray, list[dict]]:
    """Stereo samples at SPEECH_RATE and the timed rows of one scenario."""
    pieces: list[tuple[int, int, np.ndarray]] = []
    rows = []
    t = LEAD
    for line in scenario["lines"]:
        audio = trim(speak(line["text"], scenario["lang"], SPEECH_RATE, words_per_minute=WORDS_PER_MINUTE[scenario["lang"]]))
        start = int(round(t * SPEECH_RATE))
        pieces.append((CHANNEL[line["speaker"]], start, audio))
        end = (start + len(audio)) / SPEECH_RATE
        rows.append({"speaker": line["speaker"], "start": round(start / SPEECH_RATE, 3), "end": round(end, 3), "text": line["text"]})
        t = end + GAP
    total = int(round((t - GAP + TAIL) * SPEECH_RATE))
    stereo = np.zeros((total, 2), dtype=np.float32)
    for channel, start, audio in pieces:
        stereo[start : start + len(audio), channel] = audio * 0.9
    return stereo, rows


def write_wav(path: Path, stereo: np.ndarray) -> None:
    """8 kHz stereo 16-bit PCM."""
    left = resample(stereo[:, 0], SPEECH_RATE, FILE_RATE)
    right = resample(stereo[:, 1], SPEECH_RATE, FILE_RATE)
    n = min(len(left), len(right))
    frames = np.stack([left[:n], right[:n]], axis=1).reshape(-1)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(FILE_RATE)
        w.writeframes(to_pcm16(frames))


def write_scenario(scenario: dict, out: Path) -> list[Path]:
    """Write the WAV, reference transcript and expected findings of one scenario."""
    folder = out / scenario["lang"]
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / scenario["id"]
    stereo, rows = build(scenario)
    write_wav(stem.with_suffix(".wav"), stereo)
    call = {
        "id": f"{scenario['lang']}-{scenario['id']}",
        "lang": scenario["lang"],
        "title": scenario["title"],
        "audio": f"{scenario['id']}.wav",
        "channels": {"0": "agent", "1": "customer"},
        "sample_rate": FILE_RATE,
    }
    lines = [json.dumps({"call": call}, ensure_ascii=False)] + [json.dumps(r, ensure_ascii=False) for r in rows]
    stem.with_suffix(".jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    expected = {
        "call": call["id"],
        "lang": scenario["lang"],
        "practice": scenario["practice"],
        "lines": [
            {"seq": k, "speaker": r["speaker"], "start": r["start"], "text": r["text"], "categories": sorted(line["labels"])}
            for k, (r, line) in enumerate(zip(rows, scenario["lines"]), 1)
        ],
    }
    path = stem.parent / f"{scenario['id']}.expected.json"
    path.write_text(json.dumps(expected, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return [stem.with_suffix(".wav"), stem.with_suffix(".jsonl"), path]


def load_scenarios() -> list[dict]:
    """The scenarios of scenarios.yaml."""
    return yaml.safe_load((HERE / "scenarios.yaml").read_text(encoding="utf-8"))["scenarios"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="regenerate into a temp dir and report differences")
    args = parser.parse_args(argv)
    scenarios = load_scenarios()
    if not args.check:
        for scenario in scenarios:
            for path in write_scenario(scenario, HERE):
                print(f"wrote {path.relative_to(HERE.parent)}")
        return 0
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for scenario in scenarios:
            for path in write_scenario(scenario, Path(tmp)):
                mine = HERE / path.relative_to(tmp)
                if not mine.exists() or mine.read_bytes() != path.read_bytes():
                    print(f"differs: {mine.relative_to(HERE.parent)}")
                    bad += 1
    print("fixtures are up to date" if not bad else f"{bad} file(s) differ: run make_fixtures.py to regenerate")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
