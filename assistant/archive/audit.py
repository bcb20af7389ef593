"""Audit a folder of recordings: every call checked and archived, in parallel, resumable.

A recording is a WAV, a timed transcript (JSONL), or both under one name (``NAME.wav`` +
``NAME.jsonl``: the transcript is used and the audio recorded with it). A WAV alone is
transcribed with a speech model first (unless ``transcripts_only``). A sidecar
``NAME.case.yaml`` is the call's case. Worker processes read, transcribe and check (the
slow part). Each call is written in one transaction, so a killed audit leaves whole calls
only: by this process into an SQLite file, or, into a central PostgreSQL archive, by the
worker that checked it (on whichever machine of a cluster it runs). A recording already in the archive (its audio's SHA-256, or
its call id sealed) is skipped: running the audit again resumes where it stopped. A file
that fails is reported with the reason and the batch goes on.
"""
from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from assistant.errors import CallassistError, InputValidationError
from assistant.events import Finding

_worker_checker: Any = None  # one Checker per worker process
_worker_archives: dict[str, Any] = {}  # one connection per worker process to a central archive


@dataclass(frozen=True)
class Recording:
    """One call to audit: its name, transcript and/or audio, case file, and what a manifest
    row says of it (case fields, ``started_at``, ``agent_id``)."""

    name: str
    transcript: Path | None = None
    audio: Path | None = None
    case_file: Path | None = None
    manifest: tuple[tuple[str, str], ...] = ()


MANIFEST_CALL_FIELDS = ("started_at", "agent_id", "direction")  # the rest of a manifest row is the case


def read_manifest(path: str | Path) -> dict[str, dict[str, str]]:
    """A CSV manifest: one row per recording, column ``file`` (its name, with or without
    extension), optional ``started_at``, ``agent_id``, ``direction``, and case fields
    (``case_id`` or ``id``, ``lang``, ``timezone``, ``callee_role`` …). Keyed by file stem."""
    import csv

    from assistant.errors import InputValidationError

    rows: dict[str, dict[str, str]] = {}
    with Path(path).open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "file" not in reader.fieldnames:
            raise InputValidationError(f"{path}: a manifest is a CSV file whose header has a `file` column (and case fields)")
        for no, row in enumerate(reader, 2):
            name = Path((row.get("file") or "").strip()).stem
            if not name:
                raise InputValidationError(f"{path}:{no}: no file name in the `file` column")
            if name in rows:
                raise InputValidationError(f"{path}:{no}: {name} is listed twice")
            rows[name] = {k.strip(): (v or "").strip() for k, v in row.items() if k and k.strip() != "file" and (v or "").strip()}
    return rows


def with_manifest(recordings: list[Recording], manifest: dict[str, dict[str, str]]) -> tuple[list[Recording], list[str]]:
    """The recordings with their manifest rows; the manifest's names no recording has."""
    from dataclasses import replace

    found = {r.name for r in recordings}
    out = [replace(r, manifest=tuple(sorted(manifest[r.name].items()))) if r.name in manifest else r for r in recordings]
    return out, sorted(n for n in manifest if n not in found)


@dataclass
class AuditSummary:
    """What an audit did."""

    audited: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    scores: list[Any] = field(default_factory=list)  # CallScore of each audited call that had a scorecard
    audio_seconds: float = 0.0
    severities: Counter[str] = field(default_factory=Counter)
    categories: Counter[str] = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=dict)

    def slowest(self, n: int = 3) -> list[tuple[str, float]]:
        """The files that took longest to check."""
        return sorted(self.seconds.items(), key=lambda kv: -kv[1])[:n]


def find_recordings(paths: Iterable[str | Path], transcripts_only: bool = False) -> tuple[list[Recording], list[str]]:
    """The recordings under ``paths`` (folders are searched recursively), in name order, and
    the files left out with why."""
    files: list[Path] = []
    for given in paths:
        p = Path(given)
        if p.is_dir():
            files += [f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in (".wav", ".jsonl")]
        elif p.is_file():
            files.append(p)
    by_name: dict[Path, dict[str, Path]] = {}
    for f in files:
        by_name.setdefault(f.with_suffix(""), {})[f.suffix.lower()] = f
    out, left = [], []
    for stem, found in sorted(by_name.items()):
        transcript, audio = found.get(".jsonl"), found.get(".wav")
        if transcript is None and audio is None:
            continue
        if transcript is None and transcripts_only:
            left.append(f"{audio}: no transcript beside it (--transcripts-only)")
            continue
        case = stem.with_name(stem.name + ".case.yaml")
        out.append(Recording(stem.name, transcript, audio, case if case.is_file() else None))
    return out, left


def _prepare(rec: Recording, model: str | None, lang: str | None) -> tuple[Any, float]:
    """In a worker: transcribe if needed, then read, validate and check the call."""
    global _worker_checker
    from assistant.archive.importer import load_case, prepare_import
    from assistant.checker import Checker

    started = time.perf_counter()
    if _worker_checker is None:
        _worker_checker = Checker()
    case = load_case(rec.case_file) if rec.case_file else None
    row = dict(rec.manifest)
    listed = {("id" if k == "case_id" else k): v for k, v in row.items() if k not in MANIFEST_CALL_FIELDS}
    if listed:
        case = {**listed, **(case or {})}  # the sidecar file wins over the manifest
        if not case.get("id"):
            case["id"] = rec.name
    if rec.transcript is not None:
        prepared = prepare_import(rec.transcript, audio=rec.audio, lang=lang, checker=_worker_checker, case=case)
    else:
        assert rec.audio is not None
        with tempfile.TemporaryDirectory(prefix="callassist-audit-") as tmp:
            transcript = Path(tmp) / f"{rec.name}.jsonl"
            transcribe_wav(rec.audio, transcript, model, lang)
            prepared = prepare_import(transcript, audio=rec.audio, lang=lang, checker=_worker_checker, case=case)
        prepared.path = rec.audio
    for key in MANIFEST_CALL_FIELDS:  # a manifest fills in what the transcript does not say
        if row.get(key) and not prepared.meta.get(key):
            prepared.meta[key] = row[key]
    return prepared, time.perf_counter() - started


def transcribe_wav(audio: Path, out: Path, model: str | None, lang: str | None) -> None:
    """Write the timed transcript of a WAV file (channels: agent, customer) with a speech model."""
    from assistant.asr.models import locate_model, model_language
    from assistant.asr.vosk import VoskRecognizer
    from assistant.audio.wav import WavFileSource
    from assistant.pipeline import CallPipeline
    from assistant.pipeline.sinks import TranscriptSink

    model_dir = locate_model(model, lang or "zh")
    wav = WavFileSource(audio, None)
    speakers = sorted(wav.channel_map.values())
    meta = {"id": audio.stem, "lang": model_language(model_dir) or lang or "zh", "source": audio.name, "model": model_dir.name, "speakers": speakers}
    with out.open("w", encoding="utf-8") as fh:
        sink = TranscriptSink(fh, "jsonl", False, meta)
        pipeline = CallPipeline(audio.stem, str(meta["lang"]), recognizers={s: VoskRecognizer(model_dir) for s in speakers}, checkers=(),
                                suggest=False, sinks=[sink])
        pipeline.start()
        for chunk in wav:
            pipeline.feed(chunk)
        pipeline.finish()


def _already(archive: Any) -> tuple[set[str], set[str]]:
    """Audio digests and sealed call ids already in the archive."""
    digests = {row[0] for row in archive.conn.execute("SELECT sha256 FROM audio_files")}
    sealed = {c["call_id"] for c in archive.calls() if c["status"] == "sealed"}
    return digests, sealed


def _call_id(rec: Recording) -> str:
    """The id a recording's call gets: its transcript header's, else the file name."""
    if rec.transcript is not None:
        import json

        try:
            with rec.transcript.open("rb") as fh:
                head = json.loads(fh.readline())
            if isinstance(head, dict) and isinstance(head.get("call"), dict) and head["call"].get("id"):
                return str(head["call"]["id"])
        except (OSError, ValueError):
            pass
    return rec.name


def run_audit(archive: Any, recordings: list[Recording], *, workers: int = 1, model: str | None = None, lang: str | None = None,
              progress: Callable[[str], None] | None = None, scorecards: Mapping[str, Any] | None = None,
              executor: Executor | None = None) -> AuditSummary:
    """Check and archive every recording not archived yet; see the module docstring.

    ``scorecards`` (language → :class:`~assistant.archive.scorecard.Scorecard`) score each
    call as it is recorded; the scores are chained into the call and listed in the summary.
    ``executor`` (any :class:`concurrent.futures.Executor`, e.g. a Ray cluster's, see
    :func:`cluster_executor`) runs the workers instead of local processes. This process
    decides what is left to do, so resuming works the same everywhere; an SQLite archive is
    written by this process, a central (PostgreSQL) one by the workers themselves.
    """
    from assistant.files import file_digest

    summary = AuditSummary()
    digests, sealed = _already(archive)
    todo = []
    for rec in recordings:
        if _call_id(rec) in sealed or (rec.audio is not None and file_digest(rec.audio) in digests):
            summary.skipped.append(rec.name)
            if progress:
                progress(rec.name)
        else:
            todo.append(rec)

    def add(rec: Recording, outcome: Callable[[], _Recorded]) -> None:
        try:
            done = outcome()
        except CallassistError as exc:
            summary.failed.append((rec.name, str(exc)))
        except Exception as exc:  # noqa: BLE001 - a bad file never stops the batch: it is reported
            summary.failed.append((rec.name, f"{type(exc).__name__}: {exc}"))
        else:
            summary.audited.append(rec.name)
            summary.seconds[rec.name] = done.took
            summary.audio_seconds += done.audio_seconds
            summary.categories.update(done.categories)
            summary.severities.update(done.severities)
            summary.scores += done.scores
        if progress:
            progress(rec.name)

    def here(rec: Recording) -> _Recorded:
        prepared, took = _prepare(rec, model, lang)
        return _record(archive, prepared, took, scorecards)

    central = archive.backend.central
    if executor is None and workers <= 1:
        for rec in todo:
            add(rec, partial(here, rec))
        return summary
    pool = executor if executor is not None else ProcessPoolExecutor(max_workers=workers)
    try:
        if central:  # the workers write: the archive key comes from their environment on a cluster
            key = archive.key if executor is None else None
            futures = [(rec, pool.submit(_prepare_and_record, rec, model, lang, archive.backend.target, key, scorecards)) for rec in todo]
            for rec, future in futures:
                add(rec, future.result)
        else:  # this process writes, in name order, what the workers checked
            def written(checked: Future[tuple[Any, float]]) -> _Recorded:
                return _record(archive, *checked.result(), scorecards)

            pending = [(rec, pool.submit(_prepare, rec, model, lang)) for rec in todo]
            for rec, checked in pending:
                add(rec, partial(written, checked))
    finally:
        if executor is None:  # after Ctrl-C, calls not yet started stay unstarted (those running finish whole)
            pool.shutdown(cancel_futures=True)
    return summary


@dataclass
class _Recorded:
    """What one recorded call adds to the audit's summary (made where it was written)."""

    took: float
    audio_seconds: float
    categories: Counter[str]
    severities: Counter[str]
    scores: list[Any]


def _record(archive: Any, prepared: Any, took: float, scorecards: Mapping[str, Any] | None) -> _Recorded:
    """Write one checked call (resuming it if it was interrupted) and score it."""
    from assistant.archive.importer import record_import

    result = record_import(archive, prepared, resume=archive.status(prepared.call_id) == "interrupted")
    scores = []
    card = (scorecards or {}).get(prepared.lang)
    if card is not None:
        from assistant.archive.scorecard import score_calls

        for scored in score_calls(archive, card, [result.call_id]):  # a call just recorded: its first score
            archive.add_score(scored.call_id, scored.as_record("audit"))
            scores.append(scored)
    audio = float(prepared.audio_info.duration) if prepared.audio_info is not None else 0.0
    severities: Counter[str] = Counter(str(e.severity) for _, events in prepared.judged for e in events if isinstance(e, Finding))
    return _Recorded(took, audio, Counter(result.findings), severities, scores)


def _prepare_and_record(rec: Recording, model: str | None, lang: str | None, target: str | Path, key: bytes | None,
                        scorecards: Mapping[str, Any] | None) -> _Recorded:
    """In a worker, for a central archive: check the call and write it there (``key`` None:
    the worker's own ``$CALLASSIST_ARCHIVE_KEY``)."""
    from assistant.archive.store import Archive

    prepared, took = _prepare(rec, model, lang)
    archive = _worker_archives.get(str(target))
    if archive is None:
        archive = _worker_archives[str(target)] = Archive(target, key=key)
    return _record(archive, prepared, took, scorecards)


class RayExecutor(Executor):
    """A :class:`concurrent.futures.Executor` over the Ray cluster this process is connected
    to: each call runs as a Ray task of one CPU (workers keep their checker between tasks)."""

    def __init__(self) -> None:
        import ray

        self._ray: Any = ray
        self._remote: dict[Callable[..., Any], Any] = {}

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        remote = self._remote.get(fn)
        if remote is None:
            remote = self._remote[fn] = self._ray.remote(num_cpus=1)(fn)
        future: Future[Any] = remote.remote(*args, **kwargs).future()
        return future


def cluster_executor(address: str) -> tuple[Executor, Callable[[], None]]:
    """An executor over the Ray cluster at ``address`` and a function that disconnects.

    ``address``: ``HOST:6379`` (the head's GCS) from a machine that joined the cluster
    (``ray start --address=HOST:6379``), or ``ray://HOST:10001`` through Ray Client (``pip
    install 'ray[client]'``). Every worker needs callassist installed, the recordings at
    the same paths (shared storage), and, for a central archive that signs, the archive key
    in the environment ``ray start`` ran with.
    """
    import logging
    import socket

    try:
        import ray as ray_module
    except ImportError as exc:
        raise InputValidationError("--cluster needs Ray: pip install 'callassist[cluster]'") from exc
    ray: Any = ray_module  # (Ray is only partly typed)
    hostport = address.removeprefix("ray://")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise InputValidationError(f"--cluster {address}: give the Ray head as HOST:PORT (its GCS, e.g. 10.0.0.5:6379) or ray://HOST:10001")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()  # Ray itself would retry for minutes
    except OSError as exc:
        raise InputValidationError(f"no Ray cluster answers at {address} ({exc.strerror or exc}): start its head with "
                                   f"`ray start --head --port={port}` and join workers with `ray start --address={host}:{port}`") from exc
    try:
        ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise InputValidationError(f"cannot join the Ray cluster at {address}: {exc}") from exc
    if not ray.cluster_resources().get("CPU"):
        ray.shutdown()
        raise InputValidationError(f"the Ray cluster at {address} has no CPUs to work on: join workers with `ray start --address={hostport}`")
    return RayExecutor(), ray.shutdown


def default_workers() -> int:
    """One worker per CPU, at most 4 (each holds a checker: about 0.5 GB)."""
    return max(1, min(4, os.cpu_count() or 1))
