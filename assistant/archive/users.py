"""The review app's users: names, roles and password hashes, kept in the archive.

Passwords are hashed with scrypt (``hashlib.scrypt``: a memory-hard key-derivation
function) and a random salt per user; only the hash is stored. Every change (a user added,
a password or role changed, a user disabled) is a chained archive-log entry.

Roles, from least to most:

- ``agent``: sees only their own calls (their user name is their agent id) and disputes flags;
- ``trainer``: sees every call, the queue and the rule dismissal rates; changes no review;
- ``reviewer``: also confirms and dismisses flags and answers disputes; exports redacted;
- ``admin``: also exports unredacted evidence.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.errors import UserError

if TYPE_CHECKING:
    from assistant.archive.store import Archive

ROLES = ("agent", "trainer", "reviewer", "admin")
MIN_PASSWORD = 10
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
_N, _R, _P = 2**14, 8, 1  # scrypt cost: about 16 MiB and 50 ms per check


@dataclass(frozen=True)
class User:
    """A user of the review app."""

    name: str
    role: str

    def can(self, action: str) -> bool:
        """Whether the role allows ``action``: view_all, review, dispute, export, export_full, rules."""
        allowed = {
            "agent": {"dispute"},
            "trainer": {"view_all", "export", "rules"},
            "reviewer": {"view_all", "review", "export", "rules"},
            "admin": {"view_all", "review", "export", "export_full", "rules"},
        }
        return action in allowed.get(self.role, set())


def hash_password(password: str, salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$salt$hash`` of a password."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, maxmem=64 * 1024 * 1024, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def check_password(stored: str, password: str) -> bool:
    """Whether ``password`` matches a stored hash (compared in constant time)."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        again = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), maxmem=64 * 1024 * 1024,
                               dklen=len(digest) // 2)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(again.hex(), digest)


_DUMMY = hash_password("not a password", b"\0" * 16)


def _checked(name: str, role: str, password: str) -> None:
    if not _NAME.match(name):
        raise UserError(f"{name!r} cannot be a user name: letters, digits and _ . @ - only, at most 64 (an agent's name is their agent id)")
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password is too short: at least {MIN_PASSWORD} characters")


def add_user(archive: "Archive", name: str, role: str, password: str, *, replace: bool = False) -> User:
    """Add a user (or, with ``replace``, set an existing user's role and password)."""
    _checked(name, role, password)
    exists = archive.conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone() is not None
    if exists and not replace:
        raise UserError(f"user {name} exists already: use `callassist users add {name} --role {role} --replace` to change their role or password")
    from assistant.archive.store import now_iso

    with archive.transaction():
        archive.backend.upsert(archive.conn, "users", {"name": name, "role": role, "password": hash_password(password),
                                                       "created_at": now_iso(), "disabled": 0}, pk="name")
        archive.log_event("user_changed" if exists else "user_added", name, json.dumps({"role": role}))
    return User(name, role)


def disable_user(archive: "Archive", name: str) -> None:
    """Stop a user from signing in (their reviews stay, under their name)."""
    with archive.transaction():
        if archive.conn.execute("UPDATE users SET disabled = 1 WHERE name = ?", (name,)).rowcount == 0:
            raise UserError(f"no user {name}: `callassist users list` shows them")
        archive.log_event("user_disabled", name)


def list_users(archive: "Archive") -> list[dict[str, object]]:
    """Every user: name, role, created, disabled (never the hash)."""
    return [{"name": r["name"], "role": r["role"], "created_at": r["created_at"], "disabled": bool(r["disabled"])}
            for r in archive.conn.execute("SELECT name, role, created_at, disabled FROM users ORDER BY name")]


def authenticate(archive: "Archive", name: str, password: str) -> User | None:
    """The user, if the name and password are right and the user is not disabled. Takes as
    long for an unknown name as for a wrong password (no probing for names)."""
    row = archive.conn.execute("SELECT name, role, password, disabled FROM users WHERE name = ?", (name,)).fetchone()
    ok = check_password(row["password"] if row is not None else _DUMMY, password)
    if row is None or not ok or row["disabled"]:
        return None
    return User(str(row["name"]), str(row["role"]))


def get_user(archive: "Archive", name: str) -> User | None:
    """An enabled user by name."""
    row = archive.conn.execute("SELECT name, role FROM users WHERE name = ? AND disabled = 0", (name,)).fetchone()
    return User(str(row["name"]), str(row["role"])) if row is not None else None


__all__ = ["MIN_PASSWORD", "ROLES", "User", "add_user", "authenticate", "check_password", "disable_user", "get_user", "hash_password", "list_users"]
