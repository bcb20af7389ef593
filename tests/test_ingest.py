"""Call audio from the phone system: AudioSocket, the WebSocket audio fork and the
vosk-server protocol, each spoken by a client written from the protocol's description,
into the ingest server running the real Vosk recogniser (the Korean test model)."""
from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
import wave
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import pytest

from assistant.archive import Archive, verify
from assistant.audio.resample import resample
from assistant.errors import IngestError
from assistant.ingest import protocols as p
from assistant.ingest.server import IngestConfig, IngestServer
from assistant.ingest.session import CallSource, LegFeed

ROOT = Path(__file__).resolve().parents[1]
CALL = ROOT / "recordings_fixtures" / "zh" / "threats_and_insults.wav"
TOKEN = "t0ken-for-the-tests-0123456789"
A7_TOKEN = "a7-only-token-0123456789"


def channels(path: Path) -> tuple[int, list[bytes]]:
    """The fixture's rate and each channel's 16-bit PCM (agent left, customer right)."""
    with wave.open(str(path)) as w:
        rate, n = w.getframerate(), w.getnchannels()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, n)
    return rate, [data[:, i].tobytes() for i in range(n)]


# ---- the protocols, without a server --------------------------------------------------------------
def test_audiosocket_frames_follow_the_description():
    leg = str(uuid.uuid4())
    frame = p.uuid_frame(leg)
    wire = frame.encode()
    assert wire[:3] == b"\x01\x00\x10" and len(wire) == 19
    assert p.parse_header(wire[:3]) == (0x01, 16) and p.Frame(0x01, wire[3:]).uuid == leg
    assert p.Frame(p.HANGUP).encode() == b"\x00\x00\x00"
    frames = p.audio_frames(b"\x01\x00" * 400)
    assert [len(f.payload) for f in frames] == [320, 320, 160] and frames[0].encode()[:3] == b"\x10\x01\x40"
    with pytest.raises(IngestError, match="unknown AudioSocket message type 0x42"):
        p.parse_header(b"\x42\x00\x00")


def test_fork_metadata_and_vosk_messages():
    info = p.parse_metadata('{"callId": "c1", "agentId": "A7", "sampleRate": 16000, "mixType": "stereo"}')
    assert (info.call_id, info.agent_id, info.sample_rate, info.channels) == ("c1", "A7", 16000, 2)
    assert p.parse_metadata('{"uuid": "x"}', {"agentId": "B2"}).agent_id == "B2"
    for bad, why in (("not json", "JSON metadata"), ('{"callId": "c", "sampleRate": 44100}', "8000 or 16000"), ("{}", "names no call")):
        with pytest.raises(IngestError, match=why):
            p.parse_metadata(bad)
    assert p.vosk_config('{"config": {"sample_rate": 8000.0}}') == 8000 and p.vosk_config('{"eof": 1}') is None
    assert p.is_eof('{"eof" : 1}') and not p.is_eof('{"config": {}}')


def test_the_streaming_resampler_leaves_no_seams_at_chunk_boundaries():
    rng = np.random.default_rng(7)
    t = np.arange(8000 * 2) / 8000
    pcm = (np.sin(2 * np.pi * 440 * t) * 8000 + rng.normal(0, 300, t.size)).astype("<i2").tobytes()
    whole, chunked = CallSource(), CallSource()
    one = LegFeed("agent", 8000, whole)
    one.feed(pcm)
    one.flush()
    many = LegFeed("agent", 8000, chunked)
    for i in range(0, len(pcm), 321):  # 20 ms frames, cut at odd byte counts too
        many.feed(pcm[i : i + 321])
    many.flush()
    whole.end()
    chunked.end()

    def samples(source):
        return np.concatenate([np.frombuffer(c.pcm, "<i2") for c in source]).astype(np.int32)

    a, b = samples(whole), samples(chunked)
    assert a.size == b.size and np.abs(a - b).max() <= 1  # the same signal, however it was cut
    naive = np.concatenate([resample(np.frombuffer(pcm[i : i + 320], "<i2").astype(np.float32) / 32768, 8000, 16000)
                            for i in range(0, len(pcm), 320)])  # each 20 ms chunk on its own: a fresh filter every time
    n = min(naive.size, a.size)
    delay = int(np.argmax(np.correlate(a[:4000].astype(float), (naive[:2000] * 32768), "valid"))) if a.size > 4000 else 0
    seams = np.abs((naive[: n - delay] * 32768).astype(np.int32) - a[delay:n]).max()
    assert seams > 100, seams


# ---- the server ----------------------------------------------------------------------------------
def _start(tmp_path, recognizer, archive=None):
    config = IngestConfig(tokens={TOKEN: "", A7_TOKEN: "A7"}, archive=archive or tmp_path / "a.db", max_calls=3, idle_seconds=5)
    return IngestServer(config, recognizer=recognizer).start()


@pytest.fixture
def server(tmp_path, ko_model_dir):
    """The ingest server with the real Vosk recogniser (the Korean test model)."""
    from assistant.asr.vosk import VoskRecognizer

    srv = _start(tmp_path, lambda lang, speaker: VoskRecognizer(ko_model_dir))
    yield srv
    srv.close()


def scripted(lang, speaker):
    """A recogniser that replays the fixture's reference transcript as its audio passes.
    The Vosk test model is not deterministic (the same audio decoded twice in one process
    gives different Korean words), so "the same findings as live" is checked with this one."""
    from assistant.asr.scripted import ScriptedRecognizer

    return ScriptedRecognizer.from_file(CALL.with_suffix(".jsonl"), speaker)


@pytest.fixture
def replaying(tmp_path):
    srv = _start(tmp_path, scripted)
    yield srv
    srv.close()


def _register(srv, **query):
    url = f"http://127.0.0.1:{srv.ws_port}/register?" + urlencode(query)
    with urllib.request.urlopen(url, timeout=10) as res:
        return json.loads(res.read())


def _audiosocket_leg(srv, leg: str, pcm: bytes, *, hangup: bool = True, garbage: bool = False) -> bytes:
    """One leg as Asterisk sends it; returns what the server answered (an error message, or
    nothing). The server may close the connection while the leg is still sending (a refused
    or broken leg): the rest is then not sent."""
    with socket.create_connection(("127.0.0.1", srv.audiosocket_port), timeout=30) as s:
        try:
            s.sendall(p.uuid_frame(leg).encode())
            for i, frame in enumerate(p.audio_frames(pcm)):
                s.sendall(frame.encode())
                if garbage and i == 100:
                    s.sendall(b"\x42\x00\x00")
                    break
            if hangup:
                s.sendall(p.Frame(p.HANGUP).encode())
            s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            return s.recv(16)
        except ConnectionResetError:
            return b""


def _wait(srv, call_id: str, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [i for i in srv.finished if i.call_id == call_id]
        if done:
            return done[0]
        time.sleep(0.1)
    raise AssertionError(f"call {call_id} did not end")


def _archived(path: Path | str, call_id: str):
    with Archive(path, readonly=True) as a:
        assert verify(a, call_id).ok
        rows = a.records(call_id)
        status = a.status(call_id)
    utts = sorted((r["speaker"], r["text"]) for t, r in rows if t == "utterances")
    finds = sorted((r["category"], r["rule_id"]) for t, r in rows if t == "findings")
    return status, utts, finds


def _live(tmp_path) -> tuple[list, list]:
    """`live` on the same file, with the same recogniser: the reference."""
    from assistant.audio.wav import WavFileSource
    from assistant.pipeline import CallPipeline, registry
    from assistant.pipeline.live import queued, run_live

    db = tmp_path / "live.db"
    pipeline = CallPipeline("live-ref", "zh", recognizers={s: scripted("zh", s) for s in ("agent", "customer")},
                            sinks=queued({"archive": registry.make_sink("archive", archive=db)}))
    run_live(pipeline, WavFileSource(CALL, None))
    _, utts, finds = _archived(db, "live-ref")
    return utts, finds


def test_audiosocket_legs_are_paired_into_one_call_with_the_same_findings_as_live(replaying, tmp_path):
    server = replaying
    rate, (agent, customer) = channels(CALL)
    assert rate == 8000
    legs = {s: str(uuid.uuid4()) for s in ("agent", "customer")}
    for speaker, leg in legs.items():
        assert _register(server, token=TOKEN, uuid=leg, call="as-1", speaker=speaker, agent="A7")["call"] == "as-1"
    threads = [threading.Thread(target=_audiosocket_leg, args=(server, legs[s], pcm)) for s, pcm in (("agent", agent), ("customer", customer))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    info = _wait(server, "as-1")
    assert info.status == "sealed", info.reason
    status, utts, finds = _archived(server.config.archive, "as-1")
    assert status == "sealed" and utts
    live_utts, live_finds = _live(tmp_path)
    assert utts == live_utts and finds == live_finds and any(c == "threat_arrest" for c, _ in finds)


def _fork_call(server, call_id: str) -> list[dict]:
    """Stream the fixture call as a stereo fork; returns the messages sent back."""
    from websockets.sync.client import connect

    _, (agent, customer) = channels(CALL)
    stereo = np.stack([np.frombuffer(agent, "<i2"), np.frombuffer(customer, "<i2")], axis=1).astype("<i2").tobytes()
    received = []
    with connect(f"ws://127.0.0.1:{server.ws_port}/fork?token={TOKEN}") as ws:
        ws.send(json.dumps({"callId": call_id, "agentId": "A7", "sampleRate": 8000, "channels": 2, "lang": "zh"}))
        step = 8000 * 2 * 2 // 10  # 100 ms of stereo
        for i in range(0, len(stereo), step):
            ws.send(stereo[i : i + step])
        ws.send(json.dumps({"event": "stop"}))
        for message in ws:
            received.append(json.loads(message))
    return received


def test_concurrent_calls_land_in_a_central_postgresql_archive(tmp_path, postgres_url):
    """Several calls at once, each written by its own pipeline over its own connection."""
    server = _start(tmp_path, scripted, archive=postgres_url)
    try:
        threads = [threading.Thread(target=_fork_call, args=(server, f"pg-{k}")) for k in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        for k in range(3):
            assert _wait(server, f"pg-{k}").status == "sealed"
        expected = _live(tmp_path)
        for k in range(3):
            status, utts, finds = _archived(postgres_url, f"pg-{k}")
            assert status == "sealed" and (utts, finds) == expected
        with Archive(postgres_url, readonly=True) as a:
            assert verify(a).ok
    finally:
        server.close()


def test_a_stereo_audio_fork_gets_its_findings_back(replaying, tmp_path):
    server = replaying
    received = _fork_call(server, "fork-1")
    info = _wait(server, "fork-1")
    assert info.status == "sealed", info.reason
    status, utts, finds = _archived(server.config.archive, "fork-1")
    assert (utts, finds) == _live(tmp_path)
    assert sorted((m["category"], m["rule_id"]) for m in received if m.get("type") == "finding") == finds


@pytest.mark.vosk
def test_a_vosk_server_client_gets_partials_and_results(server):
    from websockets.sync.client import connect

    _, (agent, _) = channels(CALL)
    replies = []
    with connect(f"ws://127.0.0.1:{server.ws_port}/?token={TOKEN}&call=vosk-1&speaker=agent") as ws:
        ws.send(json.dumps({"config": {"sample_rate": 8000}}))
        for i in range(0, len(agent), 8000):  # 0.5 s chunks
            ws.send(agent[i : i + 8000])
            replies.append(json.loads(ws.recv()))
        ws.send(json.dumps({"eof": 1}))
        for message in ws:
            replies.append(json.loads(message))
    assert all(("partial" in r) or ("text" in r) or r.get("type") == "finding" for r in replies)
    assert any(r.get("text") for r in replies)
    assert _wait(server, "vosk-1").status == "sealed"


@pytest.mark.vosk
def test_bad_token_malformed_frame_and_dropped_connection_end_only_their_call(server):
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    _, (agent, customer) = channels(CALL)
    with pytest.raises(urllib.error.HTTPError) as refused:
        _register(server, token="wrong", uuid=str(uuid.uuid4()), call="x", speaker="agent")
    assert refused.value.code == 403
    with pytest.raises(InvalidStatus):
        connect(f"ws://127.0.0.1:{server.ws_port}/fork?token=wrong").close()
    with socket.create_connection(("127.0.0.1", server.audiosocket_port), timeout=30) as stranger:  # never registered: refused
        stranger.sendall(p.uuid_frame(str(uuid.uuid4())).encode())
        assert stranger.recv(16)[:3] == b"\xff\x00\x01"
    # a healthy call goes on while two others break
    good = str(uuid.uuid4())
    _register(server, token=TOKEN, uuid=good, call="good", speaker="agent", legs="agent")
    healthy = threading.Thread(target=_audiosocket_leg, args=(server, good, agent))
    healthy.start()
    bad = str(uuid.uuid4())
    _register(server, token=TOKEN, uuid=bad, call="garbage", speaker="agent", legs="agent")
    _audiosocket_leg(server, bad, agent, hangup=False, garbage=True)
    cut = str(uuid.uuid4())
    _register(server, token=TOKEN, uuid=cut, call="cut", speaker="customer", legs="customer")
    _audiosocket_leg(server, cut, customer[: len(customer) // 3], hangup=False)
    healthy.join(60)
    garbage, dropped, ok = _wait(server, "garbage"), _wait(server, "cut"), _wait(server, "good")
    assert garbage.status == "interrupted" and "0x42" in garbage.reason
    assert dropped.status == "interrupted" and "without a hang-up" in dropped.reason
    assert ok.status == "sealed"
    with Archive(server.config.archive, readonly=True) as a:
        assert {a.status("garbage"), a.status("cut"), a.status("good")} == {"interrupted", "sealed"}
        assert verify(a).ok


@pytest.mark.vosk
def test_a_full_server_refuses_new_calls_clearly_and_keeps_the_others(server):
    from websockets.exceptions import ConnectionClosedError
    from websockets.sync.client import connect

    _, (agent, _) = channels(CALL)
    sockets = []
    for n in range(3):  # the limit: three calls in progress
        leg = str(uuid.uuid4())
        _register(server, token=TOKEN, uuid=leg, call=f"busy-{n}", speaker="agent", legs="agent")
        s = socket.create_connection(("127.0.0.1", server.audiosocket_port), timeout=30)
        s.sendall(p.uuid_frame(leg).encode() + b"".join(f.encode() for f in p.audio_frames(agent[:16000])))
        sockets.append(s)
    deadline = time.monotonic() + 30
    while len(server.sessions) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    with connect(f"ws://127.0.0.1:{server.ws_port}/fork?token={TOKEN}") as ws:
        ws.send(json.dumps({"callId": "one-too-many", "sampleRate": 8000}))
        with pytest.raises(ConnectionClosedError):
            ws.recv(timeout=10)
        assert ws.close_code == 1013 and "server full" in (ws.close_reason or "")
    assert server.refused == 1
    for s in sockets:
        s.sendall(p.Frame(p.HANGUP).encode())
        s.close()
    assert all(_wait(server, f"busy-{n}").status == "sealed" for n in range(3))





def test_an_agent_sees_their_own_call_live_and_the_supervisor_sees_every_call(replaying):
    from websockets.sync.client import connect

    server = replaying
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"http://127.0.0.1:{server.ws_port}/live?token={A7_TOKEN}&agent=B2", timeout=10)
    assert refused.value.code == 403  # A7's token does not show B2
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"http://127.0.0.1:{server.ws_port}/supervisor?token={A7_TOKEN}", timeout=10)
    page = urllib.request.urlopen(f"http://127.0.0.1:{server.ws_port}/live?token={A7_TOKEN}&agent=A7", timeout=10).read().decode()
    assert "new WebSocket" in page
    _, (agent, customer) = channels(CALL)
    screens = []
    with connect(f"ws://127.0.0.1:{server.ws_port}/ws?token={A7_TOKEN}&agent=A7") as view:
        screens.append(json.loads(view.recv()))
        legs = {s: str(uuid.uuid4()) for s in ("agent", "customer")}
        for speaker, leg in legs.items():
            _register(server, token=TOKEN, uuid=leg, call="routed", speaker=speaker, agent="A7")
        other = str(uuid.uuid4())
        _register(server, token=TOKEN, uuid=other, call="b2-call", speaker="agent", legs="agent", agent="B2")
        senders = [threading.Thread(target=_audiosocket_leg, args=(server, legs[s], pcm)) for s, pcm in (("agent", agent), ("customer", customer))]
        senders.append(threading.Thread(target=_audiosocket_leg, args=(server, other, agent)))
        for t in senders:
            t.start()
        deadline = time.monotonic() + 30
        supervisor = ""
        while time.monotonic() < deadline:
            status = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{server.ws_port}/calls?token={TOKEN}", timeout=10).read())
            if len(status["calls"]) == 2:
                supervisor = urllib.request.urlopen(f"http://127.0.0.1:{server.ws_port}/supervisor?token={TOKEN}", timeout=10).read().decode()
                break
            time.sleep(0.05)
        for t in senders:
            t.join(60)
        _wait(server, "routed")
        _wait(server, "b2-call")
        while True:
            try:
                screens.append(json.loads(view.recv(timeout=3)))
            except TimeoutError:
                break
    assert "routed" in supervisor and "b2-call" in supervisor and "A7" in supervisor and "B2" in supervisor
    last = screens[-1]
    assert last["call_id"] == "routed" and last["alerts"] and last["lines"]
    assert all(s["call_id"] in ("", None, "routed") for s in screens)  # never B2's call


@pytest.mark.slow
@pytest.mark.vosk
def test_serve_calls_starts_prints_its_addresses_and_stops_on_ctrl_c(tmp_path, ko_model_dir):
    import os
    import signal
    import subprocess
    import sys

    env = {**os.environ, "CALLASSIST_MODEL": str(ko_model_dir)}
    proc = subprocess.Popen([sys.executable, "-m", "assistant", "serve-calls", "--port", "0", "--audiosocket-port", "0", "--archive",
                             str(tmp_path / "a.db")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert first.startswith("AudioSocket: tcp://127.0.0.1:"), first
    port = int(proc.stdout.readline().split("ws://127.0.0.1:")[1].split("/")[0])
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/calls?token=wrong-token-but-long", timeout=10)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert "token (for every agent" in err


def test_a_fork_whose_connection_drops_is_archived_as_interrupted(replaying):
    from websockets.sync.client import connect

    server = replaying
    _, (agent, customer) = channels(CALL)
    stereo = np.stack([np.frombuffer(agent, "<i2"), np.frombuffer(customer, "<i2")], axis=1).astype("<i2").tobytes()
    with connect(f"ws://127.0.0.1:{server.ws_port}/fork?token={TOKEN}") as ws:
        ws.send(json.dumps({"callId": "fork-cut", "agentId": "A7", "sampleRate": 8000, "channels": 2}))
        ws.send(stereo[: len(stereo) // 2])
        time.sleep(0.5)
        ws.socket.shutdown(socket.SHUT_RDWR)  # the network goes: no closing handshake
        ws.socket.close()
    info = _wait(server, "fork-cut")
    assert info.status == "interrupted" and "dropped" in info.reason
    status, utts, _ = _archived(server.config.archive, "fork-cut")
    assert status == "interrupted" and utts  # what was said before the cut is kept


def test_a_second_connection_for_a_leg_in_progress_is_refused_and_the_call_goes_on(replaying):
    from websockets.exceptions import ConnectionClosedError
    from websockets.sync.client import connect

    server = replaying
    _, (agent, customer) = channels(CALL)
    stereo = np.stack([np.frombuffer(agent, "<i2"), np.frombuffer(customer, "<i2")], axis=1).astype("<i2").tobytes()
    meta = json.dumps({"callId": "twice", "sampleRate": 8000, "channels": 2})
    with connect(f"ws://127.0.0.1:{server.ws_port}/fork?token={TOKEN}") as first:
        first.send(meta)
        first.send(stereo[: len(stereo) // 2])
        with connect(f"ws://127.0.0.1:{server.ws_port}/fork?token={TOKEN}") as second:
            second.send(meta)
            with pytest.raises(ConnectionClosedError):
                second.recv(timeout=10)
            assert second.close_code == 1008 and "connected already" in (second.close_reason or "")
        first.send(stereo[len(stereo) // 2 :])
        first.send(json.dumps({"event": "stop"}))
        for _ in first:
            pass
    assert _wait(server, "twice").status == "sealed"
