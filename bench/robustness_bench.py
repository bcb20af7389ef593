"""Start-up, worst-case line and long-recording figures (issue 9's speed and memory bar).

Usage: python bench/robustness_bench.py [--minutes 60] [--runs 5]

Prints:
- `callassist --help` wall time (median of --runs);
- time from starting `callassist check` until its first result line arrives, for a Chinese
  and an English line (median of --runs, warm user cache), and the same with the user cache
  emptied (a first run on a new machine); the process's exit comes ~0.3 s later (teardown);
- checking 10,000-character lines built to be worst cases (thousands of matches in one
  sentence, long punctuation runs): final check, median of 3;
- a --minutes long 48 kHz stereo WAV streamed through WavFileSource to 16 kHz: seconds and
  peak RSS of that process (the file is written to a temporary folder first).
Ends with one `RESULT key=value ...` line.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

LINE = json.dumps({"speaker": "agent", "text": "不还钱就等着坐牢"}, ensure_ascii=False) + "\n"
LINE_EN = json.dumps({"speaker": "agent", "text": "we will send someone to your job if you do not pay"}) + "\n"


def timed(cmd: list[str], stdin: str | None = None, env: dict | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, input=stdin, capture_output=True, text=True, check=True, env=env)
    return time.perf_counter() - start


def first_result(cmd: list[str], line: str, env: dict | None = None) -> float:
    """Seconds from starting ``cmd`` until its first output line arrives."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(line)
    proc.stdin.close()
    proc.stdout.readline()
    took = time.perf_counter() - start
    proc.wait()
    return took


def worst_lines() -> list[str]:
    return ["不还钱就等着坐牢，" * 1111, "不" * 5000 + "坐牢" * 2500, "，" * 10000, "we will arrest you if you don't pay. " * 270, "你" * 10000]


def long_wav(path: Path, minutes: float) -> None:
    rate, block = 48_000, 48_000 * 10
    rng = np.random.default_rng(1)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        for _ in range(int(minutes * 60 * rate / block)):
            w.writeframes((rng.normal(0, 3000, (block, 2))).astype("<i2").tobytes())


STREAM = """
import resource, sys, time
from assistant.audio.wav import WavFileSource
t = time.perf_counter(); n = 0
for chunk in WavFileSource(sys.argv[1]):
    n += len(chunk.pcm)
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, n)
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    exe = shutil.which("callassist") or sys.exit("callassist is not installed: pip install -e .")

    help_s = statistics.median(timed([exe, "--help"]) for _ in range(args.runs))
    print(f"callassist --help: {help_s:.2f} s (median of {args.runs})")
    timed([exe, "check", "-"], LINE)  # fill the user cache
    timed([exe, "check", "-"], LINE_EN)
    first = statistics.median(first_result([exe, "check", "-"], LINE) for _ in range(args.runs))
    first_en = statistics.median(first_result([exe, "check", "-"], LINE_EN) for _ in range(args.runs))
    print(f"first check result through the CLI: Chinese line {first:.2f} s, English line {first_en:.2f} s (median of {args.runs}, warm user cache)")
    with tempfile.TemporaryDirectory() as cache:
        cold = first_result([exe, "check", "-"], LINE, env={**os.environ, "XDG_CACHE_HOME": cache})
    print(f"  with an empty user cache (first run on a machine): {cold:.2f} s")

    from assistant import Checker

    checker = Checker()
    checker.warm_up(["zh", "en"])
    worst = []
    for text in worst_lines():
        times = []
        for _ in range(3):
            t = time.perf_counter()
            checker.check(text[:10_000], "agent")
            times.append(time.perf_counter() - t)
        worst.append(statistics.median(times))
        print(f"  10,000-character line {text[:12]!r}…: {worst[-1] * 1000:.0f} ms")
    print(f"worst 10,000-character line, final check: {max(worst) * 1000:.0f} ms")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.wav"
        long_wav(path, args.minutes)
        size = path.stat().st_size
        out = subprocess.run([sys.executable, "-c", STREAM, str(path)], capture_output=True, text=True, check=True).stdout.split()
        seconds, rss = float(out[0]), float(out[1])
    print(f"{args.minutes:g} min 48 kHz stereo WAV ({size / 1e6:.0f} MB) streamed to 16 kHz: {seconds:.1f} s, peak RSS {rss:.0f} MB")
    print(f"RESULT help_s={help_s:.2f} first_check_zh_s={first:.2f} first_check_en_s={first_en:.2f} first_check_cold_s={cold:.2f} worst_10k_line_ms={max(worst) * 1000:.0f} "
          f"wav_minutes={args.minutes:g} wav_stream_s={seconds:.1f} wav_peak_rss_mb={rss:.0f}")


if __name__ == "__main__":
    main()
