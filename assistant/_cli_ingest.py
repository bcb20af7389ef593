"""``callassist serve-calls``: live call audio from the phone system, every call checked and archived."""
from __future__ import annotations

import secrets
import threading
from pathlib import Path

import click

from assistant._cli_common import archive_option, archive_path, lang_option
from assistant._screen import safe


@click.command("serve-calls")
@archive_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (the PBX's network only if you say so).")
@click.option("--port", type=click.IntRange(0, 65535), default=8770, show_default=True,
              help="WebSocket port: audio forks (/fork), vosk-server clients (/), AudioSocket registration, live views, supervisor (0: any free port).")
@click.option("--audiosocket-port", type=click.IntRange(0, 65535), default=9019, show_default=True, help="TCP port for Asterisk AudioSocket.")
@click.option("--tokens", "tokens_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML `token: agent id` (an empty agent id: a token for every agent). Default: one token made now and printed.")
@click.option("--model", help="Vosk model directory, alias (zh, en) or installed name.")
@click.option("--max-calls", type=click.IntRange(min=1), default=8, show_default=True, help="Calls at once; more are refused with a clear status.")
@lang_option("Language of calls that do not say (default: zh).")
@click.option("--check", is_flag=True, help="Load the model, bind the ports, print the addresses and exit.")
@click.pass_context
def serve_calls(ctx: click.Context, host: str, port: int, audiosocket_port: int, tokens_file: Path | None, model: str | None, max_calls: int,
                lang: str | None, check: bool) -> None:
    """Take live call audio from the phone system: Asterisk AudioSocket, FreeSWITCH or
    jambonz audio forks over WebSocket, vosk-server clients. One call pipeline per call,
    every call archived; agents follow their own call at /live, supervisors at /supervisor.

    Stop with Ctrl-C (calls still open are archived as interrupted). Example:

        callassist serve-calls --port 0 --audiosocket-port 0 --check
    """
    from assistant.asr.models import locate_model
    from assistant.asr.vosk import VoskRecognizer, load_model
    from assistant.ingest.server import IngestConfig, IngestServer, load_tokens

    code = lang or "zh"
    model_dir = locate_model(model, code)
    load_model(model_dir)  # once, before any call: every call shares it
    tokens = load_tokens(tokens_file) if tokens_file else {}
    made = ""
    if not tokens:
        made = secrets.token_urlsafe(24)
        tokens = {made: ""}
    config = IngestConfig(host=host, ws_port=port, audiosocket_port=audiosocket_port, tokens=tokens, archive=archive_path(ctx), lang=code,
                          max_calls=max_calls)
    server = IngestServer(config, recognizer=lambda _lang, _speaker: VoskRecognizer(model_dir)).start()
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"warning: listening on {safe(host)}: put TLS in front for anything but the PBX's own network", err=True)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"AudioSocket: tcp://{shown}:{server.audiosocket_port}  (register each leg first: GET /register on the WebSocket port)")
    click.echo(f"WebSocket:   ws://{shown}:{server.ws_port}/fork (audio fork), ws://{shown}:{server.ws_port}/ (vosk-server protocol)")
    click.echo(f"supervisor:  http://{shown}:{server.ws_port}/supervisor?token=…   agent view: http://{shown}:{server.ws_port}/live?token=…&agent=ID")
    from assistant.archive.backend import describe

    click.echo(f"model {model_dir.name}; archive {describe(archive_path(ctx))}; at most {max_calls} calls at once")
    if made:
        click.echo(f"token (for every agent; give --tokens FILE to set your own): {made}", err=True)
    if check:
        server.close()
        return
    try:
        threading.Event().wait()
    finally:  # Ctrl-C: calls still open end interrupted, what they said stays archived
        server.close()
