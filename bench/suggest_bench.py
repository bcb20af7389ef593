"""Suggestion latency: the stage tracker + suggester after every final utterance.

Replays the recorded fixtures' reference transcripts (both languages) through a
``CallSession`` and times, per utterance, (a) the stage tracker and suggester alone and
(b) the whole turn including the compliance check. Target: suggestion p99 <= 10 ms.

    python bench/suggest_bench.py [--rounds 20]

Ends with a ``RESULT key=value ...`` line.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.session import CallSession  # noqa: E402

from assistant.asr.scripted import load_transcript, transcript_utterances  # noqa: E402
from assistant.checker import Checker  # noqa: E402
from assistant.suggest.library import load_library, sample_case  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    checker = Checker()
    checker.warm_up()  # load rules and the meaning model before timing anything
    libraries = {lang: load_library(lang)[0] for lang in ("zh", "en")}
    calls = []
    for path in sorted((ROOT / "recordings_fixtures").glob("*/*.jsonl")):
        meta, rows = load_transcript(path)
        calls.append((meta, transcript_utterances(meta["id"], rows)))
    suggest_ms: list[float] = []
    turn_ms: list[float] = []
    for _ in range(args.rounds):
        for meta, utterances in calls:
            lang = meta["lang"]
            session = CallSession(meta["id"], lang, sample_case(lang), checker=checker, lines=libraries[lang])
            for utt in utterances:
                t0 = time.perf_counter()
                findings = checker.check(utt.text, utt.speaker, lang=lang)
                t1 = time.perf_counter()
                session.tracker.feed(utt, findings)
                session.suggester.feed(utt, findings, session.tracker.stage, session.tracker.by_agent)
                t2 = time.perf_counter()
                suggest_ms.append((t2 - t1) * 1000)
                turn_ms.append((t2 - t0) * 1000)
    n = len(suggest_ms)
    print(f"{n} utterances ({len(calls)} calls x {args.rounds} rounds); library zh {len(libraries['zh'])} lines, en {len(libraries['en'])} lines")
    print(f"stage tracker + suggester: p50 {statistics.median(suggest_ms):.2f} ms, p99 {pct(suggest_ms, 0.99):.2f} ms, max {max(suggest_ms):.2f} ms")
    print(f"whole turn (check + stage + suggestions): p50 {statistics.median(turn_ms):.2f} ms, p99 {pct(turn_ms, 0.99):.2f} ms")
    print(f"RESULT suggest_p50_ms={statistics.median(suggest_ms):.3f} suggest_p99_ms={pct(suggest_ms, 0.99):.3f} "
          f"turn_p50_ms={statistics.median(turn_ms):.2f} turn_p99_ms={pct(turn_ms, 0.99):.2f} utterances={n}")


if __name__ == "__main__":
    main()
