"""Speech commands of the CLI: ``transcribe``, ``models …``, ``devices``."""
from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Iterable, Iterator

import click

from assistant._cli_common import emit, format_option, lang_option
from assistant.constants import FORMATS, TARGET_RATE

if TYPE_CHECKING:
    from assistant.events import AudioChunk


def parse_channels(spec: str) -> dict[int, str]:
    """``agent,customer`` → {0: agent, 1: customer}; ``_`` skips a channel (``_,customer``)."""
    mapping: dict[int, str] = {}
    for index, name in enumerate(part.strip() for part in spec.split(",")):
        if name in ("_", "-", ""):
            continue
        if name not in ("agent", "customer"):
            raise click.BadParameter(f"unknown speaker {name!r}: use agent, customer or _ (skip), e.g. customer,agent", param_hint="--channels")
        if name in mapping.values():
            raise click.BadParameter(f"{name} is named twice", param_hint="--channels")
        mapping[index] = name
    if not mapping:
        raise click.BadParameter("name at least one speaker, e.g. agent,customer", param_hint="--channels")
    return mapping


def _with_progress(source: Iterable[AudioChunk], total: float, enabled: bool) -> Iterator[AudioChunk]:
    """Pass chunks through, drawing a progress bar (seconds of audio) on stderr."""
    if not enabled:
        yield from source
        return
    with click.progressbar(length=max(int(total * 10), 1), label="transcribing", file=sys.stderr) as bar:
        seen = 0
        for chunk in source:
            now = int((chunk.start + chunk.duration) * 10)
            if now > seen:
                bar.update(now - seen)
                seen = now
            yield chunk


@click.command()
@click.argument("source", required=False)
@click.option("--model", help="Model directory, alias (zh, en, zh-large, en-large) or installed name. Default: $CALLASSIST_MODEL, then an installed model of --lang.")
@lang_option("Language, to pick an installed model (default: $CALLASSIST_MODEL, else zh).")
@click.option("--channels", help="Speaker of each channel, left first; `_` skips one. Default: agent,customer (a mono file is the agent's).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="jsonl", show_default=True)
@click.option("--partials", is_flag=True, help="Also write partial hypotheses (marked partial) as they arrive.")
@click.option("--realtime", is_flag=True, help="Replay a file at the speed of a live call.")
@click.option("--allow-truncated", is_flag=True, help="Use what is there of a WAV file cut short.")
@click.option("--rate", type=int, default=TARGET_RATE, show_default=True, help="Sample rate of raw PCM on stdin (SOURCE `-`).")
@click.option("--stdin-channels", type=int, default=1, show_default=True, help="Interleaved channels of raw PCM on stdin.")
@click.option("--mic", is_flag=True, help="Capture live from the default microphone (the agent).")
@click.option("--agent-device", help="With --mic: agent input device (index or name, see `callassist devices`).")
@click.option("--customer-device", help="With --mic: second device carrying the customer (softphone output / loopback).")
@click.option("--seconds", type=float, help="With --mic: stop after this much audio (default: until Ctrl-C).")
@click.option("--call-id", help="Call id in the output (default: the file name).")
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-", help="Write here instead of stdout.")
def transcribe(
    source: str | None, model: str | None, lang: str | None, channels: str, fmt: str, partials: bool, realtime: bool,
    allow_truncated: bool, rate: int, stdin_channels: int, mic: bool, agent_device: str | None,
    customer_device: str | None, seconds: float | None, call_id: str | None, output: IO[str],
) -> None:
    """Transcribe a call: WAV file, raw 16-bit PCM on stdin (`-`), or --mic.

    Writes one utterance per line (the timed-transcript format that `check` reads).
    Examples:

        callassist transcribe recordings_fixtures/zh/refuse_to_sign.wav --channels agent,customer --format text
        callassist transcribe recordings_fixtures/zh/refuse_to_sign.wav | callassist check -
        sox recordings_fixtures/zh/refuse_to_sign.wav -t raw -r 8000 -e signed -b 16 -c 2 - | callassist transcribe - --rate 8000 --stdin-channels 2
    """
    if mic == bool(source):
        raise click.UsageError("give a SOURCE (FILE.wav or - for raw PCM on stdin) or --mic, not both")
    channel_map = parse_channels(channels) if channels else None
    from assistant.asr.models import locate_model, model_language
    from assistant.pipeline import CallPipeline
    from assistant.pipeline.sinks import TranscriptSink

    model_dir = locate_model(model, lang or "zh")  # before opening devices: a missing model is the likelier fault
    from assistant.asr.vosk import VoskRecognizer  # imports vosk only when needed

    duration = 0.0
    src: Iterable[AudioChunk]
    if mic:
        from assistant.audio.microphone import MicrophoneSource

        mic_src = MicrophoneSource(_device(agent_device), _device(customer_device), seconds=seconds)
        src, speakers, meta_source = mic_src, sorted(mic_src.devices), "microphone"
    elif source == "-":
        from assistant.audio.pcm import PcmStreamSource

        pcm = PcmStreamSource(sys.stdin.buffer, rate, stdin_channels, channel_map)
        src, speakers, meta_source = pcm, sorted(pcm.channel_map.values()), "stdin"
    else:
        from assistant.audio.wav import WavFileSource

        path = Path(str(source))
        wav = WavFileSource(path, channel_map, realtime=realtime, allow_truncated=allow_truncated)
        if wav.truncated:
            click.echo(f"warning: {path} is truncated; transcribing the {wav.duration:.2f} s that are there", err=True)
        duration = wav.duration
        src, speakers, meta_source = wav, sorted(wav.channel_map.values()), str(path)
    recognizers = {speaker: VoskRecognizer(model_dir) for speaker in speakers}
    cid = call_id or (Path(source).stem if source and source != "-" else meta_source)
    meta = {"id": cid, "lang": model_language(model_dir) or lang, "source": meta_source, "model": model_dir.name, "speakers": speakers}
    out = TranscriptSink(output, fmt, partials, meta)
    pipeline = CallPipeline(cid, str(meta["lang"]), recognizers=recognizers, checkers=(), suggest=False, sinks=[out])
    show = duration > 0 and not realtime and sys.stderr.isatty()
    pipeline.start()
    try:
        for chunk in _with_progress(src, duration, show):
            pipeline.feed(chunk)
        pipeline.finish()
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
        pipeline.finish()
    count = out.count
    if count == 0:
        click.echo(f"warning: no speech recognised in {meta_source} (silent, too quiet, or another language than the model's?)", err=True)


def _device(value: str | None) -> int | str | None:
    if value is None:
        return None
    return int(value) if value.isdigit() else value


@click.group()
def models() -> None:
    """Download and list speech models (official Vosk models for Mandarin and US English)."""


@models.command("list")
@format_option()
def models_list(fmt: str) -> None:
    """Show installed models and the ones `pull` knows by a short name.

    Example:

        callassist models list
    """
    from assistant.asr.models import ALIASES, installed_models, models_dir

    root = models_dir()
    have = installed_models(root)
    names = {m.name for m in have}
    rows = [{"name": m.name, "alias": "", "lang": m.lang, "installed": True, "mb": round(m.size / 1e6, 1), "path": str(m.path), "about": ""} for m in have]
    rows += [{"name": a.name, "alias": a.alias, "lang": a.lang, "installed": a.name in names, "mb": None, "path": "", "about": a.about}
             for a in ALIASES if a.name not in names]

    def text(listed: list[dict[str, Any]]) -> str:
        out = [f"installed in {root}:"]
        if not have:
            out.append("  (none) - run `callassist models pull zh` or `callassist models pull en`")
        out += [f"  {r['name']:34} {r['lang']:3} {r['mb']:8.1f} MB  {r['path']}" for r in listed if r["installed"]]
        out.append("available to pull:")
        for a in ALIASES:
            mark = "installed" if a.name in names else ""
            out.append(f"  {a.alias:9} {a.name:30} {a.about}  {mark}".rstrip())
        return "\n".join(out)

    emit(rows, fmt, ["name", "alias", "lang", "installed", "mb", "path", "about"], text)


@models.command("pull")
@click.argument("name")
@click.option("--force", is_flag=True, help="Download again even when installed.")
def models_pull(name: str, force: bool) -> None:
    """Download, verify (size + MD5) and unpack an official model into the cache.

    NAME is zh, en, zh-large, en-large or a full Vosk model name. An interrupted
    download resumes when you run the command again. Set CALLASSIST_MODEL_URL to use
    a mirror, CALLASSIST_MODELS to change where models are kept. Example:

        callassist models pull zh
    """
    with ExitStack() as stack:
        bar: Any = None  # a click progress bar, made once the size is known
        seen = 0

        def progress(done: int, total: int) -> None:
            nonlocal bar, seen
            if bar is None:  # the size is known only once the download starts
                if done:
                    click.echo(f"resuming at {done / 1e6:.1f} MB", err=True)
                bar = stack.enter_context(click.progressbar(length=total or None, label=f"downloading {name}", file=sys.stderr))
            bar.update(done - seen)
            seen = done

        from assistant.asr.models import pull

        path = pull(name, progress=progress, force=force)
    click.echo(f"ready: {path}")


@models.command("install")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def models_install(archive: Path) -> None:
    """Unpack a model .zip you copied here by hand (machines without internet access).

    Example:

        callassist models install vosk-model-small-cn-0.22.zip
    """
    from assistant.asr.models import install_archive

    click.echo(f"ready: {install_archive(archive)}")


@models.command("path")
@click.option("--model", help="Directory, alias or name.")
@lang_option("Language of the installed model to find (default: zh).")
def models_path(model: str | None, lang: str | None) -> None:
    """Print the model directory `transcribe` would use.

    Example:

        callassist models path --lang zh
    """
    from assistant.asr.models import locate_model

    click.echo(str(locate_model(model, lang or "zh")))


@click.command()
@format_option()
def devices(fmt: str) -> None:
    """List the sound devices that can record (for --agent-device / --customer-device).

    Example:

        callassist devices
    """
    from assistant.audio.microphone import list_input_devices

    found = list_input_devices()
    if not found and fmt == "text":
        click.echo("no input devices found")
    emit(found, fmt, ["index", "name", "channels", "rate"],
         lambda listed: "\n".join(f"{d['index']:>3}  {d['name']}  ({d['channels']} ch, {d['rate']:.0f} Hz)" for d in listed))
