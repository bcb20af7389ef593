"""Every setting callassist reads from the environment, in one documented table (datasette's habit).

Read a setting with :func:`get` (text) or :func:`flag` (yes/no); the table below is the only
place an environment variable is named, and ``callassist settings`` shows each one with its
current value (secrets masked). The README's settings table is generated from it
(``python -m assistant.settings``) and a test checks it is current.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["SETTINGS", "Setting", "flag", "get", "markdown_table"]


@dataclass(frozen=True)
class Setting:
    """One setting: its environment variable, what it does, and what happens when it is unset."""

    name: str
    env: str
    default: str
    about: str
    secret: bool = False


SETTINGS: dict[str, Setting] = {s.name: s for s in [
    Setting("archive", "CALLASSIST_ARCHIVE", "$XDG_DATA_HOME/callassist/archive.db (~/.local/share/…)",
            "The evidence archive used by `archive …`, `live`, `demo`, `audit` and `serve-calls` when `--archive` is not given: "
            "a file, or a PostgreSQL database as `postgresql://USER@HOST/DB` (a password in it is never shown)."),
    Setting("archive_key", "CALLASSIST_ARCHIVE_KEY", "unsigned",
            "HMAC key: an archive created with it signs every record; verify needs it to check signatures.", secret=True),
    Setting("archive_key_file", "CALLASSIST_ARCHIVE_KEY_FILE", "none",
            "A file holding the HMAC key (used when CALLASSIST_ARCHIVE_KEY is unset)."),
    Setting("group_access", "CALLASSIST_GROUP_ACCESS", "off (files 0600, folders 0700)",
            "`1` lets the owner's group read archives and bundles (0640/0750), for a QA team."),
    Setting("model", "CALLASSIST_MODEL", "an installed model of the call's language",
            "The Vosk model directory, alias or installed name for `transcribe`, `live` and `demo`."),
    Setting("models", "CALLASSIST_MODELS", "$XDG_CACHE_HOME/callassist/models (~/.cache/…)",
            "Where `models pull` keeps models."),
    Setting("model_url", "CALLASSIST_MODEL_URL", "https://alphacephei.com/vosk/models/",
            "The model publisher (a mirror: a folder with model-list.json and the archives)."),
    Setting("lexicons", "CALLASSIST_LEXICONS", "the lexicons shipped in the package",
            "A lexicons/ folder (zh/, en/) to check with instead of the shipped rules."),
    Setting("scripts", "CALLASSIST_SCRIPTS", "the script library shipped in the package",
            "A scripts_library/ folder to suggest and practise from instead of the shipped one."),
    Setting("debug", "CALLASSIST_DEBUG", "off",
            "`1` shows the Python traceback of an internal error instead of the one-line report."),
]}


def get(name: str) -> str | None:
    """The setting's value from the environment, or None when unset or empty."""
    value = os.environ.get(SETTINGS[name].env, "")
    return value if value.strip() else None


def flag(name: str) -> bool:
    """A yes/no setting: ``1``, ``true``, ``yes``, ``on`` (or ``group``) mean yes."""
    return (get(name) or "").strip().lower() in ("1", "true", "yes", "on", "group")


def markdown_table() -> str:
    """The settings as the Markdown table of the README."""
    rows = ["| Variable | Default | What it does |", "|---|---|---|"]
    rows += [f"| `{s.env}` | {s.default} | {s.about} |" for s in SETTINGS.values()]
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
