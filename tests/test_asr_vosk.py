"""The real Vosk engine, on the Korean model from PyPI and speech made by espeak-ng."""
from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np
import pytest

from assistant.asr import Segmenter
from assistant.asr.base import AsrResult
from assistant.asr.stream import recognise
from assistant.asr.vosk import VoskRecognizer, load_model
from assistant.audio import WavFileSource, resample
from assistant.audio.resample import to_pcm16
from assistant.audio.tts import silence
from assistant.errors import AudioFormatError, ModelNotFoundError, SpeechEngineError
from assistant.events import AudioChunk, Utterance
from assistant.testing import write_wav

RATE = 16_000


def chunks(samples: np.ndarray | bytes, speaker: str = "agent", seconds: float = 0.2, offset: float = 0.0) -> list[AudioChunk]:
    pcm = samples if isinstance(samples, bytes) else to_pcm16(samples)
    step = int(seconds * RATE) * 2
    return [AudioChunk(speaker, pcm[i : i + step], RATE, offset + i / 2 / RATE) for i in range(0, len(pcm), step)]  # type: ignore[arg-type]


def decode(model_dir: Path, samples: np.ndarray | bytes, offset: float = 0.0) -> list[tuple[int, AsrResult]]:
    """Every result with the index of the chunk that produced it (finish() = len(chunks))."""
    rec = VoskRecognizer(model_dir)
    feed = chunks(samples, offset=offset)
    out = [(k, r) for k, chunk in enumerate(feed) for r in rec.accept(chunk)]
    return out + [(len(feed), r) for r in rec.finish()]


def write_stereo(path: Path, left: np.ndarray, right: np.ndarray, rate: int = RATE) -> Path:
    return write_wav(path, [left, right], rate)


def test_partials_arrive_before_the_final_result(ko_model_dir, korean):
    results = decode(ko_model_dir, np.concatenate([korean["a"], silence(1.5)]))
    partials = [k for k, r in results if not r.final]
    finals = [k for k, r in results if r.final]
    assert partials and finals
    assert min(partials) < min(finals)
    growing = [r.text for _, r in results if not r.final]
    assert len(set(growing)) == len(growing)  # a partial is reported only when it changes
    assert all(r.words for _, r in results if not r.final)  # partial words with times


def test_final_words_have_increasing_times_and_confidences(ko_model_dir, korean):
    speech = korean["a"]
    finals = [r for _, r in decode(ko_model_dir, speech, offset=30.0) if r.final]
    words = [w for r in finals for w in r.words]
    assert len(words) >= 5
    assert all(w.start <= w.end for w in words)
    assert all(a.start <= b.start for a, b in zip(words, words[1:]))
    assert all(0.0 <= w.conf <= 1.0 for w in words)
    # audio time: the first chunk started at 30 s, so the words sit inside [30, 30 + duration]
    assert 30.0 <= words[0].start and words[-1].end <= 30.0 + len(speech) / RATE + 0.1
    assert finals[0].start == words[0].start and finals[-1].end == words[-1].end


def test_an_endpoint_fires_after_silence_without_waiting_for_the_end(ko_model_dir, korean):
    a, b = korean["b"], korean["c"]
    audio = np.concatenate([a, silence(2.0), b, silence(0.3)])
    results = decode(ko_model_dir, audio)
    n_chunks = len(chunks(audio))
    early = [(k, r) for k, r in results if r.final and k < n_chunks]
    assert early, "no final result before the end of the audio"
    k, first = early[0]
    end_of_a = len(a) / RATE
    assert end_of_a - 0.5 <= k * 0.2 <= end_of_a + 2.0  # fired during the pause
    assert first.end <= end_of_a + 0.3
    later = [r for _, r in results if r.final and r.start > end_of_a + 1.0]
    assert later, "the second sentence was not recognised as its own utterance"


def similar(x: str, y: str) -> float:
    return difflib.SequenceMatcher(None, x.replace(" ", ""), y.replace(" ", "")).ratio()


def test_stereo_channels_are_transcribed_independently(ko_model_dir, korean, tmp_path):
    a, b = korean["a"], korean["b"]
    gap = len(a) / RATE + 1.0
    right = np.concatenate([silence(gap), b])
    path = write_stereo(tmp_path / "call.wav", a, right)
    events = list(recognise(WavFileSource(path), {s: VoskRecognizer(ko_model_dir) for s in ("agent", "customer")}, Segmenter("c1")))
    utts = [e for e in events if isinstance(e, Utterance)]
    agent = [u for u in utts if u.speaker == "agent"]
    customer = [u for u in utts if u.speaker == "customer"]
    assert agent and customer
    assert all(u.end <= len(a) / RATE + 0.2 for u in agent)
    assert all(u.start >= gap - 0.2 for u in customer)
    # each channel decodes as it does alone (Kaldi dithers, so near-equal, not identical)
    pcm = WavFileSource(path).pcm()
    alone_a = " ".join(r.text for _, r in decode(ko_model_dir, pcm["agent"]) if r.final)
    alone_b = " ".join(r.text for _, r in decode(ko_model_dir, pcm["customer"]) if r.final)
    assert similar(" ".join(u.text for u in agent), alone_a) > 0.8
    assert similar(" ".join(u.text for u in customer), alone_b) > 0.8
    assert similar(alone_a, alone_b) < 0.5  # different sentences stay different
    assert [u.seq for u in utts] == list(range(1, len(utts) + 1))


def test_a_silent_channel_yields_nothing_while_the_other_speaks(ko_model_dir, korean, tmp_path):
    path = write_stereo(tmp_path / "one-sided.wav", np.zeros_like(korean["c"]), korean["c"])
    recs = {s: VoskRecognizer(ko_model_dir) for s in ("agent", "customer")}
    utts = [e for e in recognise(WavFileSource(path), recs, Segmenter("c")) if isinstance(e, Utterance)]
    assert utts and {u.speaker for u in utts} == {"customer"}


@pytest.mark.parametrize("rate", [8000, 44100])
def test_telephone_and_cd_rates_are_recognised(ko_model_dir, korean, tmp_path, rate):
    speech = resample(korean["b"], RATE, rate)
    path = write_stereo(tmp_path / f"{rate}.wav", speech, np.zeros_like(speech), rate)
    recs = {"agent": VoskRecognizer(ko_model_dir), "customer": VoskRecognizer(ko_model_dir)}
    utts = [e for e in recognise(WavFileSource(path), recs, Segmenter("c")) if isinstance(e, Utterance)]
    assert [u.speaker for u in utts] == ["agent"] * len(utts) and utts
    assert sum(len(u.words) for u in utts) >= 3


def test_silence_gives_no_utterance_and_no_error(ko_model_dir):
    assert [r for _, r in decode(ko_model_dir, silence(3.0))] == []


def test_a_chunk_at_the_wrong_rate_is_refused(ko_model_dir):
    rec = VoskRecognizer(ko_model_dir)
    with pytest.raises(AudioFormatError, match="resample"):
        rec.accept(AudioChunk("agent", b"\0\0" * 800, 8000, 0.0))


def test_a_directory_that_is_not_a_model_is_refused(tmp_path):
    with pytest.raises(ModelNotFoundError, match="models pull"):
        load_model(tmp_path / "nowhere")
    with pytest.raises(ModelNotFoundError, match="am/final.mdl"):
        load_model(tmp_path)
    broken = tmp_path / "broken"
    (broken / "am").mkdir(parents=True)
    (broken / "am" / "final.mdl").write_text("not a model")
    with pytest.raises(SpeechEngineError, match="pull"):
        load_model(broken)


def test_a_folder_holding_one_model_is_accepted(ko_model_dir, tmp_path):
    (tmp_path / "unzipped").mkdir()
    (tmp_path / "unzipped" / "vosk-model-x").symlink_to(ko_model_dir, target_is_directory=True)
    model = load_model(tmp_path / "unzipped")
    assert model is load_model(ko_model_dir)  # the same directory is loaded once
