"""The hash chain that makes the archive tamper-evident.

Every record appended to a call gets a position and is linked to the one before it:
``hash = SHA-256(previous hash + canonical JSON of the record)``. Text that may have to be
redacted (what was said, notes, file paths) is not hashed directly: the record carries a
*commitment* ``SHA-256(salt + canonical JSON of the private fields)`` with a random salt,
so an export can mask the text and still prove the chain. With a secret key, each hash is
also signed (HMAC-SHA-256), so someone who edits the file cannot simply recompute it.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Any

GENESIS = "0" * 64
ARCHIVE_CHAIN = "_archive"  # the archive-wide chain: seals, holds, purges


def canonical(obj: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 text kept as is."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def new_salt() -> str:
    """A fresh random salt (hex) for one record's private fields."""
    return secrets.token_hex(16)


def commitment(salt: str, private: dict[str, Any]) -> str:
    """Binds the private fields without revealing them (the salt stops guessing short texts)."""
    return hashlib.sha256(bytes.fromhex(salt) + canonical(private).encode("utf-8")).hexdigest()


def chain_label(opening_salt: str, call_id: str) -> str:
    """What a call's records carry instead of its id: ``SHA-256(salt of its opening record +
    call id)``. The id is often a file name or a phone number; a redacted bundle gives only
    this label, and the salt stops anyone from confirming a guessed id."""
    if call_id == ARCHIVE_CHAIN:
        return ARCHIVE_CHAIN
    return hashlib.sha256(bytes.fromhex(opening_salt) + b"call:" + call_id.encode("utf-8")).hexdigest()


def record_body(label: str, pos: int, kind: str, public: dict[str, Any], commit: str) -> dict[str, Any]:
    """What is hashed for one record (``label``: the chain's :func:`chain_label`)."""
    return {"chain": label, "pos": pos, "kind": kind, "public": public, "private": commit}


def link(prev: str, body: dict[str, Any]) -> str:
    """The record's hash, chained to the previous one."""
    return hashlib.sha256((prev + canonical(body)).encode("utf-8")).hexdigest()


def sign(key: bytes | None, digest: str) -> str:
    """HMAC of a chain hash with the archive key ('' without a key)."""
    if not key:
        return ""
    return hmac.new(key, digest.encode("ascii"), hashlib.sha256).hexdigest()


def head_mac(key: bytes | None, archive_id: str, pos: int, digest: str) -> str:
    """HMAC of the archive head kept outside the database file ('' without a key)."""
    if not key:
        return ""
    return hmac.new(key, f"head:{archive_id}:{pos}:{digest}".encode("utf-8"), hashlib.sha256).hexdigest()


def signature_ok(key: bytes, digest: str, mac: str) -> bool:
    """Constant-time check of a record's HMAC."""
    return hmac.compare_digest(sign(key, digest), mac or "")
