"""Evidence bundles: one call, self-contained and checkable without the archive.

A bundle (a folder or a .zip) holds ``records.json`` (every chained record of the call
with its hash), the readable ``transcript.json``/``transcript.html``, ``findings.json``,
``reviews.json``, a copy of the audio, and ``manifest.json`` with the SHA-256 of every
file. ``verify_bundle`` re-links the chain from ``records.json``, checks that the readable
files say what the records say, and checks every file hash.

With ``redact=True`` nothing that identifies a person leaves: texts, word lists, matched
phrases, suggestions, notes and reasons are masked (``redact.py``); ids, names, file names,
hosts and case values are withheld; the call id is replaced by a pseudonym; the audio of
every masked word is replaced by a tone (using the word times; an utterance with personal
data but no word times is refused unless ``mute_unaligned``). ``redaction.json`` counts
what was masked. Masked records keep their commitments, so the chain still proves that
nothing else was changed.
"""
from __future__ import annotations

import json
import os
import shutil
import wave
import zipfile
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np
from jinja2 import Environment, FileSystemLoader, select_autoescape

from assistant.archive import chain
from assistant.archive.redact import Redactor
from assistant.archive.schema import CHAINED
from assistant.archive.store import CALL_EVENTS, Archive, json_or
from assistant.archive.verify import Problem, check_chain, label_of, verify, vouching
from assistant.errors import ArchiveError, PrivacyError
from assistant.files import chmod_private, file_digest, make_private_dir, private_tempdir, safe_extract, write_private_text

FORMAT = "callassist-evidence/2"
TEMPLATES = Path(__file__).parent / "templates"
AUDIO_PAD = 0.15  # seconds of tone either side of a masked word: word times are approximate
TONE_HZ = 1000.0
TONE_LEVEL = 0.1
SAFE_CASE_KEYS = ("institution", "product", "currency", "amount_due", "days_overdue", "due_date")
WITHHELD = "[WITHHELD]"
BUNDLE_MAX_FACTOR = 50  # a bundle unpacks to at most this many times its zip size


def call_redactor(rows: list[tuple[str, Any]], call_id: str) -> Redactor:
    """The redactor of one call (its records, as :meth:`Archive.records` gives them): the
    patterns for numbers, plus the names and ids the call's own records hold (agent, debtor,
    case, reviewers)."""
    opening = next((r for t, r in rows if t == "calls"), None)
    names: list[str] = []
    idents: list[str] = [call_id]
    if opening is not None:
        names.append(str(opening["agent_name"] or ""))
        case = json_or(opening["case_snapshot"])
        if isinstance(case, dict):
            names += [str(v) for k, v in case.items() if "name" in k.lower() and isinstance(v, str)]
            idents += [str(case[k]) for k in ("id", "debtor_ref") if case.get(k)]
        idents += [str(opening["agent_id"] or ""), str(opening["case_id"] or "")]
    names += [str(r["reviewer"] or "") for t, r in rows if t == "reviews"]
    return Redactor([n for n in names if n] + [i for i in idents if len(i) >= 3])


class _Masker:
    """Masks one call's records for a redacted bundle and keeps the tally."""

    def __init__(self, rows: list[tuple[str, Any]], call_id: str) -> None:
        self.redactor = call_redactor(rows, call_id)
        self.counts: Counter[str] = Counter()
        self.audio_spans: list[tuple[float, float]] = []
        self.unaligned: list[tuple[int, float, float]] = []  # utterances with personal data but no word times
        self.audio_names: dict[int, str] = {}

    def text(self, value: Any) -> Any:
        return self.redactor.mask(value, self.counts) if isinstance(value, str) else value

    def withhold(self, value: Any, what: str) -> Any:
        if value in (None, "", "{}", "[]"):
            return value
        self.counts[what] += 1
        return WITHHELD

    def case(self, value: Any) -> Any:
        case = json_or(value)
        if not isinstance(case, dict):
            return self.withhold(value, "case values")
        shown: dict[str, Any] = {}
        for key, v in case.items():
            if key in SAFE_CASE_KEYS and isinstance(v, (int, float)) and not isinstance(v, bool):
                shown[key] = v
            elif key in SAFE_CASE_KEYS and isinstance(v, str):
                shown[key] = self.text(v)
            else:
                shown[key] = self.withhold(v, "case values") if v not in (None, "") else v
        return chain.canonical(shown)

    def private(self, table: str, row: Any) -> dict[str, Any]:
        """The private fields of one record as a redacted bundle shows them."""
        if table == "calls":
            return {"case_id": self.withhold(row["case_id"], "ids"), "agent_id": self.withhold(row["agent_id"], "ids"),
                    "agent_name": self.withhold(row["agent_name"], "names"), "case_snapshot": self.case(row["case_snapshot"]),
                    "source": self.withhold(row["source"], "file names"), "writer": self.withhold(row["writer"], "hosts")}
        if table == "utterances":
            text = str(row["text"])
            found = self.redactor.spans(text)  # once, for the text and its words alike
            words = json_or(row["words"])
            words = words if isinstance(words, list) else []
            masked_words, audio, hit = self.redactor.words(text, [w for w in words if isinstance(w, dict)], self.counts, found)
            self.audio_spans += audio
            if hit and not words:
                self.unaligned.append((int(row["seq"]), float(row["start"]), float(row["end"])))
            return {"text": self.redactor.mask(text, self.counts, found), "words": chain.canonical(masked_words)}
        if table == "findings":
            return {"matched": self.text(row["matched"])}
        if table == "suggestions":
            return {"text": self.text(row["text"])}
        if table == "reviews":
            return {"reviewer": self.withhold(row["reviewer"], "names"), "note": self.text(row["note"])}
        if table == "audio_files":
            name = f"recording-{len(self.audio_names) + 1}.wav"
            self.audio_names[int(row["pos"])] = name
            self.counts["file names"] += 1
            return {"name": name, "path": WITHHELD}
        if table == "call_events":
            return {"detail": self.text(row["detail"])}
        if table == "scores":
            return {"scorer": self.withhold(row["scorer"], "names")}
        raise ArchiveError(f"no redaction rule for table {table}")


def _record(table: str, row: Any, masker: _Masker | None) -> dict[str, Any]:
    """One chained record for ``records.json``; masked fields keep only their commitment."""
    kind, public_cols, private_cols = CHAINED[table]
    private = {c: row[c] for c in private_cols}
    rec: dict[str, Any] = {
        "table": table, "kind": kind, "pos": row["pos"], "prev_hash": row["prev_hash"], "hash": row["hash"], "mac": row["mac"],
        "public": {c: row[c] for c in public_cols},
    }
    if masker is not None:
        shown = masker.private(table, row)
        rec.update(private=shown, commitment=chain.commitment(row["salt"], private), redacted=True)
    elif table == "audio_files":  # where the file lived on the archive machine is not evidence, and may identify people
        rec.update(private={**private, "path": WITHHELD}, commitment=chain.commitment(row["salt"], private), redacted=True)
    else:
        rec.update(private=private, salt=row["salt"])
    return rec


def _readable(records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """Transcript lines, findings, reviews and the call header, from the records."""
    utts, findings, reviews, call = [], [], [], {}
    for r in records:
        pub, priv = r["public"], r["private"]
        if r["kind"] == "call":
            call = {**pub, "agent_id": priv["agent_id"], "case_id": priv["case_id"], "agent_name": priv["agent_name"],
                    "case": json_or(priv["case_snapshot"]), "channel_map": json_or(pub["channel_map"])}
        elif r["kind"] == "utterance":
            utts.append({"pos": r["pos"], "seq": pub["seq"], "speaker": pub["speaker"], "start": pub["start"], "end": pub["end"],
                         "conf": pub["conf"], "text": priv["text"], "words": json_or(priv["words"])})
        elif r["kind"] == "finding":
            findings.append({"pos": r["pos"], **pub, "matched": priv["matched"]})
        elif r["kind"] == "review":
            reviews.append({"pos": r["pos"], **pub, "reviewer": priv["reviewer"], "note": priv["note"]})
    return utts, findings, reviews, call


def _merge(spans: list[tuple[float, float]], pad: float) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for s, e in sorted((max(0.0, s - pad), e + pad) for s, e in spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def mask_audio(src: Path, dst: Path, spans: list[tuple[float, float]]) -> float:
    """Copy a WAV file with every span (seconds, all channels) replaced by a tone; streams
    block by block, writes 16-bit PCM at the original rate. Returns the seconds masked."""
    from assistant.audio.wav import wav_blocks, wav_info

    info = wav_info(src)
    rate = info.sample_rate
    frames = [(int(s * rate), int(np.ceil(e * rate))) for s, e in spans]
    masked = 0
    with wave.open(str(dst), "wb") as out:
        out.setnchannels(info.channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        at = 0
        for block in wav_blocks(info, rate * 10):
            n = len(block)
            for a, b in frames:
                lo, hi = max(a, at), min(b, at + n)
                if lo < hi:
                    t = np.arange(lo, hi) / rate
                    block[lo - at : hi - at, :] = (TONE_LEVEL * np.sin(2 * np.pi * TONE_HZ * t))[:, None]
                    masked += hi - lo
            out.writeframes(np.clip(np.round(block * 32768.0), -32768, 32767).astype("<i2").tobytes())
            at += n
    return masked / rate


def export_call(archive: Archive, call_id: str, out: str | Path, *, redact: bool = False, include_audio: bool = True,
                mute_unaligned: bool = False, progress: Callable[[str], None] | None = None) -> Path:
    """Write the evidence bundle of ``call_id`` to ``out`` (a new folder, or a file ending in .zip).

    Nothing is left behind on failure: a zip is written under a temporary name and renamed
    when complete, a folder is removed again, temporary files always go.
    """
    report = verify(archive, call_id)
    if not report.ok:
        raise ArchiveError(f"call {call_id} fails verification, so it cannot be exported as evidence:\n" + "\n".join(map(str, report.problems[:10])))
    rows = [(t, r) for t, r in archive.records(call_id) if t in CHAINED]
    if not rows:
        raise ArchiveError(f"no call {call_id!r} in {archive.path}")
    out = Path(out)
    as_zip = out.suffix == ".zip"
    if out.exists():
        if out.is_dir() and not as_zip and not any(out.iterdir()):
            out.rmdir()
        else:
            raise ArchiveError(f"{out} exists: choose a new folder or a new .zip name (nothing was overwritten)")
    with private_tempdir("bundle-", out.parent if out.parent.exists() else None) as folder:
        _write_bundle(archive, call_id, rows, folder, report.heads.get(call_id, ""), redact, include_audio, mute_unaligned, progress)
        make_private_dir(out.parent)
        if as_zip:
            partial = out.with_name(f".{out.name}.partial")
            try:
                with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as z:
                    for path in sorted(folder.rglob("*")):
                        if path.is_file():
                            z.write(path, path.relative_to(folder).as_posix())
                chmod_private(partial)
                os.replace(partial, out)
            finally:
                partial.unlink(missing_ok=True)
        else:
            shutil.move(str(folder), str(out))
            chmod_private(out)
    return out


def _write_bundle(archive: Archive, call_id: str, rows: list[tuple[str, Any]], folder: Path, head: str, redact: bool,
                  include_audio: bool, mute_unaligned: bool, progress: Callable[[str], None] | None) -> None:
    masker = _Masker(rows, call_id) if redact else None
    records = [_record(table, row, masker) for table, row in rows]
    label = label_of(call_id, rows)
    shown_id = f"call-{label[:12]}" if redact else call_id
    log = []
    for _, entry in archive.records(chain.ARCHIVE_CHAIN):
        if entry["target_call"] != call_id or entry["event"] not in CALL_EVENTS:
            continue
        item = {k: entry[k] for k in ("pos", "prev_hash", "hash", "mac", "event", "at", "head", "records")}
        if masker is None:
            item.update(target_call=entry["target_call"], reason=entry["reason"], salt=entry["salt"])
        else:
            item.update(target_call=shown_id, reason=masker.text(entry["reason"]))
        log.append(item)
    utts, findings, reviews, call = _readable(records)
    files: dict[str, Any] = {
        "records.json": records,
        "transcript.json": {"call": call, "utterances": utts},
        "findings.json": findings,
        "reviews.json": reviews,
    }
    for name, data in files.items():
        write_private_text(folder / name, json.dumps(data, ensure_ascii=False, indent=1))
    audio_records = [r for r in records if r["kind"] == "audio"]
    redaction: dict[str, Any] = {}
    if include_audio:
        for table, row in rows:
            if table != "audio_files":
                continue
            src = Path(row["path"])
            if not src.is_file():
                raise ArchiveError(f"the call's audio {src.name} is missing from where it was recorded: restore it, or export with --no-audio")
            if file_digest(src) != row["sha256"]:
                raise ArchiveError(f"the audio file {src.name} no longer matches the SHA-256 recorded for it: it was changed after the call")
            make_private_dir(folder / "audio")
            if masker is None:
                shutil.copyfile(src, folder / "audio" / row["name"])
                continue
            if masker.unaligned and not mute_unaligned:
                seqs = ", ".join(str(s) for s, _, _ in masker.unaligned[:8])
                raise PrivacyError(f"utterance(s) {seqs} hold personal data but have no word times, so their audio cannot be masked word by "
                                   "word: export with --no-audio, or with --mute-utterances to replace those whole utterances by a tone")
            spans = _merge(masker.audio_spans + [(s, e) for _, s, e in masker.unaligned], AUDIO_PAD)
            if progress:
                progress(f"masking {len(spans)} span(s) of audio")
            name = masker.audio_names[int(row["pos"])]
            seconds = mask_audio(src, folder / "audio" / name, spans)
            redaction.setdefault("audio", []).append({"file": f"audio/{name}", "original_sha256": row["sha256"],
                                                       "masked_seconds": round(seconds, 3), "spans": [[round(s, 3), round(e, 3)] for s, e in spans]})
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]))
    by_seq: dict[int, list[dict[str, Any]]] = {}
    for f in findings:
        by_seq.setdefault(int(f["utterance_seq"]), []).append(f)
    html = env.get_template("transcript.html").render(call_id=shown_id, call=call, utterances=utts, findings=by_seq, reviews=reviews,
                                                       head=head, redacted=redact, audio=audio_records)
    write_private_text(folder / "transcript.html", html)
    if masker is not None:
        redaction.update(masked=dict(sorted(masker.counts.items())), audio_included=include_audio,
                         note="Texts, words, matched phrases, suggestions, notes and reasons are masked; ids, names, file names, "
                              "hosts and case values are withheld; the call id is a pseudonym; masked words' audio is a tone.")
        write_private_text(folder / "redaction.json", json.dumps(redaction, ensure_ascii=False, indent=1))
    digests: dict[str, str] = {}
    manifest = {
        "format": FORMAT, "call_id": shown_id, "chain_label": label, "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "redacted": redact, "masked": sum(masker.counts.values()) if masker else 0, "head": head, "archive_log": log,
        "signed": bool(archive.signed), "files": digests,
    }
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "manifest.json"):
        digests[path.relative_to(folder).as_posix()] = file_digest(path)
    write_private_text(folder / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1))


def verify_bundle(path: str | Path, key: bytes | None = None) -> list[Problem]:
    """Check a bundle on its own; returns the problems (empty when it holds up)."""
    path = Path(path)
    if path.is_dir():
        return _verify_folder(path, key)
    if not (path.suffix == ".zip" and path.is_file()):
        raise ArchiveError(f"{path}: no such bundle (a folder or .zip made by `callassist archive export`)")
    with private_tempdir("bundle-check-") as tmp:
        try:
            with zipfile.ZipFile(path) as z:
                safe_extract(z, tmp, path.name, ArchiveError, max(path.stat().st_size * BUNDLE_MAX_FACTOR, 64 << 20))
        except zipfile.BadZipFile as exc:
            raise ArchiveError(f"{path} is not a zip file ({exc})") from exc
        return _verify_folder(tmp, key)


def _verify_folder(folder: Path, key: bytes | None) -> list[Problem]:
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        records = json.loads((folder / "records.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise ArchiveError(f"{folder}: not an evidence bundle (manifest.json / records.json unreadable: {exc})") from exc
    if not isinstance(manifest, dict) or not isinstance(records, list):
        raise ArchiveError(f"{folder}: not an evidence bundle (manifest.json / records.json have the wrong shape)")
    call_id = str(manifest.get("call_id"))
    try:
        return _check_folder(folder, manifest, records, call_id, key)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        return [Problem(call_id, None, "modified", f"the bundle's records are malformed ({type(exc).__name__}: {exc})")]


def _check_folder(folder: Path, manifest: dict[str, Any], records: list[Any], call_id: str, key: bytes | None) -> list[Problem]:
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
    label = str(manifest.get("chain_label", ""))
    opening = next((r for t, r in rows if t == "calls" and r["pos"] == 0 and r["salt"]), None)
    if opening is not None and label != chain.chain_label(opening["salt"], call_id):
        problems.append(Problem(call_id, 0, "modified", "the call id does not belong to this chain"))
    found, head, count = check_chain(call_id, rows, key, commits, label=label)
    problems += found
    if head != manifest.get("head"):
        problems.append(Problem(call_id, None, "modified", "the chain's last hash differs from the manifest's head"))
    entries = [e for e in manifest.get("archive_log", []) if e.get("event") in CALL_EVENTS and e.get("event") != "purged"]
    vouched, _ = vouching(call_id, rows, entries)
    problems += vouched
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
    masked_audio = set()
    if manifest.get("redacted") and (folder / "redaction.json").is_file():
        masked_audio = {a["file"] for a in json.loads((folder / "redaction.json").read_text(encoding="utf-8")).get("audio", [])}
    for rec in records:
        if rec["kind"] == "audio":
            name = f"audio/{rec['private']['name']}"
            copy = folder / name
            if copy.is_file() and name not in masked_audio and file_digest(copy) != rec["public"]["sha256"]:
                problems.append(Problem(call_id, rec["pos"], "modified", f"audio {copy.name} does not match the SHA-256 recorded during the call"))
    return problems


__all__ = ["export_call", "verify_bundle", "mask_audio", "FORMAT"]
