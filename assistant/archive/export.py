"""Evidence bundles: one call, self-contained and checkable without the archive.

A bundle (a folder or a .zip) holds ``records.json`` (every chained record of the call
with its hash), the readable ``transcript.json``/``transcript.html``, ``findings.json``,
``reviews.json``, a copy of the audio, and ``manifest.json`` with the SHA-256 of every
file. ``verify_bundle`` re-links the chain from ``records.json``, checks that the readable
files say what the records say, and checks every file hash. With ``redact=True`` personal
numbers and e-mail addresses are masked in every text; the masked records keep their
commitments, so the chain still proves that nothing else was changed.
"""
from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from assistant.archive import chain
from assistant.archive.redact import redact as mask
from assistant.archive.schema import CHAINED
from assistant.archive.store import Archive, ArchiveError, json_or
from assistant.archive.verify import Problem, check_chain, verify
from assistant.files import file_digest

FORMAT = "callassist-evidence/1"
TEMPLATES = Path(__file__).parent / "templates"


def _mask_value(value: Any) -> tuple[Any, int]:
    """Mask every string inside a value (JSON text included); returns it and the count masked."""
    count = 0

    def walk(v: Any) -> Any:
        nonlocal count
        if isinstance(v, str):
            decoded = json_or(v)
            if decoded is not v:
                return chain.canonical(walk(decoded))
            masked, n = mask(v)
            count += n
            return masked
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        return v

    return walk(value), count


def _record(table: str, row: Any, redact: bool) -> tuple[dict[str, Any], int]:
    """One chained record for ``records.json``; masked fields keep only their commitment."""
    kind, public_cols, private_cols = CHAINED[table]
    private = {c: row[c] for c in private_cols}
    rec: dict[str, Any] = {
        "table": table, "kind": kind, "pos": row["pos"], "prev_hash": row["prev_hash"], "hash": row["hash"], "mac": row["mac"],
        "public": {c: row[c] for c in public_cols},
    }
    shown, masked = _mask_value(private) if redact else (private, 0)
    if table == "audio_files":  # where the file lived on the archive machine is not evidence, and may identify people
        shown, masked = {**shown, "path": "[withheld]"}, masked + 1
    if masked:
        rec.update(private=shown, commitment=chain.commitment(row["salt"], private), redacted=True)
    else:
        rec.update(private=private, salt=row["salt"])
    return rec, masked


def _readable(records: list[dict[str, Any]]) -> tuple[list[dict], list[dict], list[dict], dict[str, Any]]:
    """Transcript lines, findings, reviews and the call header, from the records."""
    utts, findings, reviews, call = [], [], [], {}
    for r in records:
        pub, priv = r["public"], r["private"]
        if r["kind"] == "call":
            call = {**pub, "agent_name": priv["agent_name"], "case": json_or(priv["case_snapshot"]), "channel_map": json_or(pub["channel_map"])}
        elif r["kind"] == "utterance":
            utts.append({"pos": r["pos"], "seq": pub["seq"], "speaker": pub["speaker"], "start": pub["start"], "end": pub["end"],
                         "conf": pub["conf"], "text": priv["text"], "words": json_or(priv["words"])})
        elif r["kind"] == "finding":
            findings.append({"pos": r["pos"], **pub, "matched": priv["matched"]})
        elif r["kind"] == "review":
            reviews.append({"pos": r["pos"], **pub, "note": priv["note"]})
    return utts, findings, reviews, call


def export_call(archive: Archive, call_id: str, out: str | Path, *, redact: bool = False, include_audio: bool = True) -> Path:
    """Write the evidence bundle of ``call_id`` to ``out`` (a folder, or a file ending in .zip)."""
    report = verify(archive, call_id)
    if not report.ok:
        raise ArchiveError(f"call {call_id} fails verification, so it cannot be exported as evidence:\n" + "\n".join(map(str, report.problems[:10])))
    rows = [(t, r) for t, r in archive.records(call_id) if t in CHAINED]
    if not rows:
        raise ArchiveError(f"no call {call_id!r} in {archive.path}")
    out = Path(out)
    as_zip = out.suffix == ".zip"
    folder = Path(tempfile.mkdtemp(prefix="bundle-")) if as_zip else out
    if not as_zip:
        if out.exists() and any(out.iterdir()):
            raise ArchiveError(f"{out} exists and is not empty: choose a new folder or a .zip name")
        out.mkdir(parents=True, exist_ok=True)
    masked_total = 0
    records = []
    for table, row in rows:
        rec, n = _record(table, row, redact)
        records.append(rec)
        masked_total += n
    log = [dict(r) for _, r in archive.records(chain.ARCHIVE_CHAIN) if r["target_call"] == call_id]
    for entry in log:
        entry.pop("id", None)
        if redact and entry.get("reason"):
            entry["reason"] = mask(entry["reason"])[0]
    utts, findings, reviews, call = _readable(records)
    files: dict[str, Any] = {
        "records.json": records,
        "transcript.json": {"call": call, "utterances": utts},
        "findings.json": findings,
        "reviews.json": reviews,
    }
    for name, data in files.items():
        (folder / name).write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    audio = [r for r in records if r["kind"] == "audio"]
    if include_audio:
        for table, row in rows:
            if table == "audio_files":
                src = Path(row["path"])
                if not src.is_file():
                    raise ArchiveError(f"the call's audio {src} is missing: restore it, or export with --no-audio")
                if file_digest(src) != row["sha256"]:
                    raise ArchiveError(f"the audio file {src} no longer matches the SHA-256 recorded for it: it was changed after the call")
                (folder / "audio").mkdir(exist_ok=True)
                shutil.copy2(src, folder / "audio" / row["name"])
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]))
    by_seq: dict[int, list[dict]] = {}
    for f in findings:
        by_seq.setdefault(int(f["utterance_seq"]), []).append(f)
    html = env.get_template("transcript.html").render(call_id=call_id, call=call, utterances=utts, findings=by_seq, reviews=reviews,
                                                       head=report.heads.get(call_id, ""), redacted=redact, audio=audio)
    (folder / "transcript.html").write_text(html, encoding="utf-8")
    manifest = {
        "format": FORMAT, "call_id": call_id, "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "redacted": redact, "masked": masked_total, "head": report.heads.get(call_id, ""), "archive_log": log,
        "signed": bool(archive.key), "files": {},
    }
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "manifest.json"):
        manifest["files"][path.relative_to(folder).as_posix()] = file_digest(path)
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    if as_zip:
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    z.write(path, path.relative_to(folder).as_posix())
        shutil.rmtree(folder, ignore_errors=True)
    return out


def _open_bundle(path: Path) -> tuple[Path, bool]:
    if path.is_dir():
        return path, False
    if path.suffix == ".zip" and path.is_file():
        tmp = Path(tempfile.mkdtemp(prefix="bundle-check-"))
        try:
            with zipfile.ZipFile(path) as z:
                for member in z.namelist():
                    if member.startswith("/") or ".." in Path(member).parts:
                        raise ArchiveError(f"{path}: unsafe member {member!r}")
                z.extractall(tmp)
        except zipfile.BadZipFile as exc:
            raise ArchiveError(f"{path} is not a zip file ({exc})") from exc
        return tmp, True
    raise ArchiveError(f"{path}: no such bundle (a folder or .zip made by `callassist archive export`)")


def verify_bundle(path: str | Path, key: bytes | None = None) -> list[Problem]:
    """Check a bundle on its own; returns the problems (empty when it holds up)."""
    folder, temporary = _open_bundle(Path(path))
    try:
        return _verify_folder(folder, key)
    finally:
        if temporary:
            shutil.rmtree(folder, ignore_errors=True)


def _verify_folder(folder: Path, key: bytes | None) -> list[Problem]:
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        records = json.loads((folder / "records.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ArchiveError(f"{folder}: not an evidence bundle (manifest.json / records.json unreadable: {exc})") from exc
    call_id = str(manifest.get("call_id"))
    problems: list[Problem] = []
    if manifest.get("format") != FORMAT:
        problems.append(Problem(call_id, None, "modified", f"unknown bundle format {manifest.get('format')!r}"))
    listed = manifest.get("files", {})
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p.name != "manifest.json"}
    for name in sorted(set(listed) | present):
        if name not in present:
            problems.append(Problem(call_id, None, "deleted", f"file {name} listed in the manifest is missing"))
        elif name not in listed:
            problems.append(Problem(call_id, None, "inserted", f"file {name} is not in the manifest"))
        elif file_digest(folder / name) != listed[name]:
            problems.append(Problem(call_id, None, "modified", f"file {name} does not match its SHA-256 in the manifest"))
    rows, commits = [], {}
    for rec in records:
        if rec.get("table") not in CHAINED:
            problems.append(Problem(call_id, rec.get("pos"), "inserted", f"record of unknown table {rec.get('table')!r}"))
            continue
        _, public_cols, private_cols = CHAINED[rec["table"]]
        if set(rec["public"]) != set(public_cols) or set(rec["private"]) != set(private_cols):
            problems.append(Problem(call_id, rec["pos"], "modified", f"{rec['kind']} record has unexpected or missing fields"))
        row = {"call_id": call_id, "pos": rec["pos"], "prev_hash": rec["prev_hash"], "hash": rec["hash"], "mac": rec.get("mac", ""),
               "salt": rec.get("salt", ""), **rec["public"], **rec["private"]}
        if rec.get("redacted"):
            commits[rec["pos"]] = rec["commitment"]
        rows.append((rec["table"], row))
    found, head, count = check_chain(call_id, rows, key, commits)
    problems += found
    if head != manifest.get("head"):
        problems.append(Problem(call_id, None, "modified", "the chain's last hash differs from the manifest's head"))
    ends = [e for e in manifest.get("archive_log", []) if e.get("event") in ("sealed", "interrupted")]
    closing = [r for r in records if r["kind"] == "event" and r["public"].get("event") in ("sealed", "interrupted")]
    if ends and (not closing or closing[-1]["hash"] != ends[-1]["head"] or closing[-1]["pos"] + 1 != int(ends[-1]["records"])):
        problems.append(Problem(call_id, None, "deleted", "records up to the call's end do not match the archive log entry in the bundle"))
    utts, findings, reviews, _ = _readable(records)
    try:
        transcript = json.loads((folder / "transcript.json").read_text(encoding="utf-8"))["utterances"]
        shown_findings = json.loads((folder / "findings.json").read_text(encoding="utf-8"))
        shown_reviews = json.loads((folder / "reviews.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        problems.append(Problem(call_id, None, "modified", f"readable files are damaged ({exc})"))
    else:
        if transcript != utts:
            problems.append(Problem(call_id, None, "modified", "transcript.json differs from the chained records"))
        if shown_findings != findings:
            problems.append(Problem(call_id, None, "modified", "findings.json differs from the chained records"))
        if shown_reviews != reviews:
            problems.append(Problem(call_id, None, "modified", "reviews.json differs from the chained records"))
    for rec in records:
        if rec["kind"] == "audio":
            copy = folder / "audio" / rec["public"]["name"]
            if copy.is_file() and file_digest(copy) != rec["public"]["sha256"]:
                problems.append(Problem(call_id, rec["pos"], "modified", f"audio {copy.name} does not match the SHA-256 recorded during the call"))
    return problems


__all__ = ["export_call", "verify_bundle", "FORMAT"]
