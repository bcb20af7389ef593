"""Case details that calls add to: time windows the debtor granted or refused."""
from __future__ import annotations

from typing import Any, Mapping

# case fields that are lists of what debtors said in calls: merged, never replaced
NOTED_FIELDS = ("consent_time_windows", "inconvenient_times", "medium_optouts", "workplace_prohibited")
# case fields a call can set (true once said: an attorney on file)
NOTED_FLAGS = ("attorney_on_file",)


def merge_case(case: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``case`` with ``update`` added: list fields of :data:`NOTED_FIELDS` are merged (in
    order, without repeats), other fields replaced."""
    out = dict(case)
    for key, value in update.items():
        if key in NOTED_FIELDS and isinstance(value, list):
            before = out.get(key)
            listed = list(before) if isinstance(before, list) else ([] if before in (None, "", False) else [before])
            out[key] = listed + [v for v in value if v not in listed]
        else:
            out[key] = value
    return out


def recorded_case(archive: Any, case: Mapping[str, Any]) -> dict[str, Any]:
    """``case`` (from its file) with what the archive has noted on it since (windows granted
    or refused in calls …). ``archive`` None: the case as given."""
    import json

    if archive is None or not case.get("id"):
        return dict(case)
    row = archive.conn.execute("SELECT meta FROM cases WHERE id = ?", (str(case["id"]),)).fetchone()
    if row is None:
        return dict(case)
    try:
        meta = json.loads(row[0] or "{}")
    except ValueError:
        return dict(case)
    noted = {k: meta[k] for k in NOTED_FIELDS if isinstance(meta.get(k), list)}
    noted.update({k: True for k in NOTED_FLAGS if meta.get(k) is True})
    return merge_case(case, noted)
