"""Live commands of the CLI: ``live`` (a call from audio to the collector's screen) and ``demo``."""
from __future__ import annotations

import queue
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, TypeVar

import click

from assistant._cli_common import lang_option
from assistant._screen import safe
from assistant.constants import TARGET_RATE

if TYPE_CHECKING:
    from assistant.events import AudioChunk

DEMO_CALL = "threats_and_insults"  # recordings_fixtures/zh/: insults, an arrest threat, the employer told; hardship and a complaint


@dataclass
class CallPlan:
    """A live call, ready to run: its source, recognisers, language and details."""

    call_id: str
    lang: str
    source: Iterable["AudioChunk"]
    recognizers: dict[str, Any]
    speed: float | None
    meta: dict[str, Any] = field(default_factory=dict)


def _stamp() -> str:
    return datetime.now().strftime("%Y%m%d-%H%M%S")


def plan_call(*, source: str | None, transcript: Path | None, model: str | None, lang: str | None, channels: str | None,
              realtime: bool, speed: float | None, rate: int, stdin_channels: int, agent_device: str | None,
              customer_device: str | None, seconds: float | None, call_id: str | None, replay_audio: bool = False) -> CallPlan:
    """Choose source and recognisers from the options (see ``callassist live --help``)."""
    from assistant._cli_speech import _device, parse_channels
    from assistant.asr.models import locate_model, model_language
    from assistant.asr.scripted import ScriptedRecognizer, load_transcript, transcript_language
    from assistant.pipeline.live import silence

    channel_map = parse_channels(channels) if channels else None
    if transcript is not None:
        meta, rows = load_transcript(transcript)
        use_lang, _ = transcript_language(meta, rows, lang)
        speakers = sorted({r["speaker"] for r in rows})
        recognizers: dict[str, Any] = {s: ScriptedRecognizer(rows, s) for s in speakers}
        src: Iterable[AudioChunk]
        if source and replay_audio:
            from assistant.audio.wav import WavFileSource

            header_map = {int(k): v for k, v in (meta.get("channels") or {}).items()} or None
            src = WavFileSource(Path(source), channel_map or header_map)
        else:
            src = silence(max(float(r["end"]) for r in rows) + 0.5, speakers)
        pace: float | None = speed if speed is not None else 1.0
        cid = call_id or f"{meta.get('id') or transcript.stem}-{_stamp()}"
        return CallPlan(cid, use_lang, src, recognizers, pace, {"source": str(transcript), "asr_model": "reference transcript (scripted)",
                                                                "channel_map": meta.get("channels") or {}})
    if not source:
        raise click.UsageError("give --source (mic, FILE.wav or - for raw PCM on stdin) or --transcript FILE.jsonl")
    model_dir = locate_model(model, lang or "zh")
    from assistant.asr.vosk import VoskRecognizer

    use_lang = lang or model_language(model_dir) or "zh"
    if source == "mic":
        from assistant.audio.microphone import MicrophoneSource

        mic = MicrophoneSource(_device(agent_device), _device(customer_device), seconds=seconds)
        src, speakers, where, pace = mic, sorted(mic.devices), "microphone", None
    elif source == "-":
        from assistant.audio.pcm import PcmStreamSource

        pcm = PcmStreamSource(sys.stdin.buffer, rate, stdin_channels, channel_map)
        src, speakers, where, pace = pcm, sorted(pcm.channel_map.values()), "stdin", speed
    else:
        from assistant.audio.wav import WavFileSource

        wav = WavFileSource(Path(source), channel_map)
        src, speakers, where = wav, sorted(wav.channel_map.values()), str(source)
        pace = 1.0 if realtime and speed is None else speed
    recognizers = {s: VoskRecognizer(model_dir) for s in speakers}
    cid = call_id or (f"{Path(source).stem}-{_stamp()}" if source not in ("mic", "-") else f"live-{_stamp()}")
    return CallPlan(cid, use_lang, src, recognizers, pace, {"source": where, "asr_model": model_dir.name})


def _contact_check(case: dict[str, Any] | None, archive: Path | str | None, lang: str, call_id: str) -> list[Any]:
    """The contact rules a call to ``case`` made now breaks (counting the case's calls in the
    archive, read before this call is recorded), each also printed as a warning line."""
    if not case:
        return []
    from assistant.archive.backend import exists
    from assistant.archive.history import contact_findings
    from assistant.archive.store import Archive

    store = Archive(archive, readonly=True) if archive is not None and exists(archive) else None
    try:
        found = contact_findings(store, case, datetime.now(timezone.utc), lang, exclude=call_id)
    finally:
        if store is not None:
            store.close()
    for f in found:
        click.echo(f"warning: contact rule {f.rule_id}: {safe(f.explanation)} ({safe(f.citation)})", err=True)
    return found


def run_plan(plan: CallPlan, *, case: dict[str, Any] | None, agent: str, archive: Path | str | None, view: str, web: bool, host: str,
             port: int, verbose: bool, linger: float = 0.0) -> Any:
    """Build the pipeline with its sinks and play the call; returns the :class:`LiveResult`."""
    from assistant import __version__
    from assistant.archive.importer import ruleset_fingerprint
    from assistant.pipeline import CallPipeline, registry
    from assistant.pipeline.live import UseLine, queued, run_live

    sinks: dict[str, Any] = {}
    if archive is not None:
        sinks["archive"] = registry.make_sink("archive", archive=archive)
    if view == "terminal":
        sinks["terminal"] = registry.make_sink("terminal", lang=plan.lang, verbose=verbose)
    elif view == "log":
        sinks["log"] = registry.make_sink("log", write=lambda line: click.echo(line), lang=plan.lang, verbose=verbose)
    elif view == "jsonl":
        sinks["jsonl"] = registry.make_sink("jsonl", output=sys.stdout)
    if web:
        web_view = registry.make_sink("web", lang=plan.lang, verbose=verbose, host=host, port=port, linger=linger)
        click.echo(f"live view: {getattr(web_view, 'url', '')}", err=True)
        sinks["web"] = web_view
    meta = dict(plan.meta, agent_id=agent, started_at=datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds"),
                ruleset_version=__version__, ruleset_hash=ruleset_fingerprint(plan.lang))
    contact = _contact_check(case, archive, plan.lang, plan.call_id)
    pipeline = CallPipeline(plan.call_id, plan.lang, case=case, recognizers=plan.recognizers, sinks=queued(sinks), meta=meta, contact=contact)
    inbox: queue.Queue[Any] = queue.Queue()
    stop = threading.Event()
    keys = None
    if view == "terminal":
        from assistant.views.terminal import KeyReader

        keys = KeyReader(lambda k: inbox.put(UseLine(k)), stop)
        keys.start()
    try:
        return run_live(pipeline, plan.source, speed=plan.speed, inbox=inbox, stop=stop)
    finally:
        stop.set()
        if keys is not None:
            keys.restore()
        close = getattr(plan.source, "stop", None)
        if callable(close):
            close()


def _view(view: str | None) -> str:
    return view or ("terminal" if sys.stdout.isatty() else "log")


def _report(result: Any, archive: Path | str | None) -> None:
    for name, error in result.sink_errors.items():
        click.echo(f"warning: the {name} view failed during the call: {error}", err=True)
    for name, count in result.dropped.items():
        if count:
            click.echo(f"note: {count} partial update(s) skipped for the {name} view (it fell behind)", err=True)
    if archive is not None and "archive" not in result.sink_errors:
        from assistant.archive.backend import describe

        click.echo(f"archived as call {result.call_id} in {describe(archive)} ({result.status})", err=True)


_SOURCE_OPTIONS = [
    click.option("--model", help="Vosk model directory, alias (zh, en) or installed name (see `callassist models list`)."),
    lang_option("The call's language (wins over per-line detection). Default: the case's, the transcript's or the model's."),
    click.option("--channels", help="Speaker of each channel, left first; `_` skips one (default agent,customer)."),
    click.option("--case", "case_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Case file (YAML): debtor, amount, days overdue … for the suggested lines."),
    click.option("--agent", default="", help="The collector's staff id (archived with the call)."),
    click.option("--call-id", help="Call id (default: the source's name and the time)."),
    click.option("--archive", "archive_path", metavar="PATH|URL", help="Archive file or postgresql:// URL (default: $CALLASSIST_ARCHIVE or the user data folder)."),
    click.option("--no-archive", is_flag=True, help="Do not record the call."),
    click.option("--view", type=click.Choice(["terminal", "log", "jsonl", "none"]), help="What stdout shows: the live screen (default on a terminal), a plain log (default otherwise), every event as JSON Lines, or nothing."),
    click.option("--web", is_flag=True, help="Also serve the live view in a browser (address printed, with its access token)."),
    click.option("--host", default="127.0.0.1", show_default=True, help="With --web: address to bind (localhost unless you mean it)."),
    click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="With --web: port (0 = any free one)."),
    click.option("--verbose", is_flag=True, help="Show rule ids, character spans and suggestion ids."),
]


F = TypeVar("F", bound=Callable[..., Any])


def _with(options: list[Callable[[F], F]]) -> Callable[[F], F]:
    """Apply a list of click options (shared by several commands) as one decorator."""
    def wrap(fn: F) -> F:
        for option in reversed(options):
            fn = option(fn)
        return fn
    return wrap


def _case(case_file: Path | None) -> dict[str, Any]:
    if case_file is None:
        return {}
    from assistant.archive.importer import load_case

    return load_case(case_file)


def _archive_target(archive_path: str | None, no_archive: bool) -> Path | str | None:
    if no_archive:
        return None
    from assistant.archive.backend import as_target
    from assistant.files import default_archive

    return as_target(archive_path) if archive_path else default_archive()


@click.command()
@click.option("--source", help="mic (default microphone; see --agent-device/--customer-device), FILE.wav, or - (raw 16-bit PCM on stdin).")
@click.option("--transcript", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Replay a timed transcript with the scripted recogniser, paced by its times (no model needed).")
@click.option("--realtime", is_flag=True, help="Play FILE.wav at the speed of a live call.")
@click.option("--speed", type=click.FloatRange(min=0), help="Play N times faster than real time (0 = as fast as possible). Default: real time for --transcript, as fast as possible for a file.")
@click.option("--rate", type=int, default=TARGET_RATE, show_default=True, help="Sample rate of raw PCM on stdin.")
@click.option("--stdin-channels", type=int, default=1, show_default=True, help="Interleaved channels of raw PCM on stdin.")
@click.option("--agent-device", help="With --source mic: the agent's input device (index or name, see `callassist devices`).")
@click.option("--customer-device", help="With --source mic: a second device carrying the customer (softphone output / loopback).")
@click.option("--seconds", type=float, help="With --source mic: stop after this much audio (default: until Ctrl-C).")
@_with(_SOURCE_OPTIONS)
def live(source: str | None, transcript: Path | None, realtime: bool, speed: float | None, rate: int, stdin_channels: int,
         agent_device: str | None, customer_device: str | None, seconds: float | None, model: str | None, lang: str | None,
         channels: str | None, case_file: Path | None, agent: str, call_id: str | None, archive_path: str | None, no_archive: bool,
         view: str | None, web: bool, host: str, port: int, verbose: bool) -> None:
    """Assist a call live: speech to text, alerts, stage and suggested lines on screen, archived as it happens.

    Examples:

        callassist live --transcript recordings_fixtures/zh/threats_and_insults.jsonl --speed 8 --view log
        callassist live --source recordings_fixtures/zh/refuse_to_sign.wav --speed 0 --case recordings_fixtures/zh/threats_and_insults.case.yaml --agent A1024
        callassist live --source mic --seconds 1 --agent A1024 --view none
    """
    if source and transcript:
        raise click.UsageError("give --source or --transcript, not both")
    case = _case(case_file)
    lang = lang or (case.get("lang") if case.get("lang") in ("zh", "en") else None)
    plan = plan_call(source=source, transcript=transcript, model=model, lang=lang, channels=channels, realtime=realtime, speed=speed,
                     rate=rate, stdin_channels=stdin_channels, agent_device=agent_device, customer_device=customer_device,
                     seconds=seconds, call_id=call_id)
    target = _archive_target(archive_path, no_archive)
    result = run_plan(plan, case=case, agent=agent, archive=target, view=_view(view), web=web, host=host, port=port, verbose=verbose)
    _report(result, target)


@click.command()
@click.option("--speed", type=click.FloatRange(min=0), default=1.0, show_default=True, help="Play N times faster than real time (0 = as fast as possible).")
@click.option("--archive", "archive_path", metavar="PATH|URL", help="Archive file or postgresql:// URL (default: $CALLASSIST_ARCHIVE or the user data folder).")
@click.option("--view", type=click.Choice(["terminal", "log", "jsonl", "none"]), help="The live screen (default on a terminal) or a plain log.")
@click.option("--web", is_flag=True, help="Also show the call in the browser (the page stays up 60 s after the call).")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="With --web: port (0 = any free one).")
@click.option("--verbose", is_flag=True, help="Show rule ids and spans.")
def demo(speed: float, archive_path: str | None, view: str | None, web: bool, port: int, verbose: bool) -> None:
    """Play a Mandarin collection call through the live pipeline: no microphone, no download.

    With a Mandarin Vosk model installed (`callassist models pull zh`) the recording is
    recognised; otherwise its reference transcript is replayed against the audio. The call
    is archived in your data folder. Example:

        callassist demo --speed 8 --view log
    """
    from assistant.asr.models import locate_model
    from assistant.errors import ModelNotFoundError
    from assistant.files import data_dir

    folder = data_dir("recordings_fixtures") / "zh"
    wav, transcript, case_file = folder / f"{DEMO_CALL}.wav", folder / f"{DEMO_CALL}.jsonl", folder / f"{DEMO_CALL}.case.yaml"
    case = _case(case_file)
    try:
        model_dir: Path | None = locate_model(None, "zh")
    except ModelNotFoundError:
        model_dir = None
    shown = _view(view)
    if model_dir is not None:
        click.echo(f"demo: recognising the recording with the speech model {model_dir.name}", err=True)
        plan = plan_call(source=str(wav), transcript=None, model=str(model_dir), lang="zh", channels="agent,customer", realtime=False, speed=speed,
                         rate=TARGET_RATE, stdin_channels=1, agent_device=None, customer_device=None, seconds=None, call_id=f"demo-{_stamp()}")
    else:
        click.echo("demo: no Mandarin speech model installed, so the recording's reference transcript is replayed in time with "
                   "its audio (`callassist models pull zh` to recognise it for real)", err=True)
        plan = plan_call(source=str(wav), transcript=transcript, model=None, lang="zh", channels=None, realtime=False, speed=speed,
                         rate=TARGET_RATE, stdin_channels=1, agent_device=None, customer_device=None, seconds=None,
                         call_id=f"demo-{_stamp()}", replay_audio=True)
    target = _archive_target(archive_path, False)
    started = time.monotonic()
    result = run_plan(plan, case=case, agent="demo", archive=target, view=shown, web=web, host="127.0.0.1", port=port, verbose=verbose,
                      linger=60.0 if web and sys.stdout.isatty() else 0.0)
    _report(result, target)
    from assistant.archive.backend import describe

    archive_opt = "" if archive_path is None or target is None else f" --archive {describe(target)}"
    click.echo(f"\ndemo call {result.call_id} done in {time.monotonic() - started:.1f} s. Try next:")
    click.echo("  callassist demo --web                       # the same call in your browser")
    click.echo(f"  callassist archive{archive_opt} show {result.call_id}")
    click.echo(f"  callassist archive{archive_opt} export {result.call_id} --redact --out demo-bundle.zip")
    click.echo("  callassist live --source mic --case case.yaml # a real call (after `callassist models pull zh`)")
