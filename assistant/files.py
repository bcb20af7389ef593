"""Files: the small YAML files users hand us (case files, scenarios), file digests, private
files and folders, and the one safe way to unpack a zip archive."""
from __future__ import annotations

import datetime as _dt
import errno
import hashlib
import os
import shutil
import stat
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

import yaml

from assistant import settings
from assistant._values import finite
from assistant.errors import CallassistError

PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """A folder of shipped data (``lexicons``, ``scripts_library``): inside the installed
    package (a wheel carries it there), else at the top of the source tree."""
    installed = PACKAGE / name
    return installed if installed.is_dir() else PACKAGE.parent / name


def library_root() -> Path:
    """``$CALLASSIST_SCRIPTS`` or the shipped ``scripts_library/`` (installed package or source tree)."""
    given = settings.get("scripts")
    if given:
        return Path(given)
    return data_dir("scripts_library")


def load_mapping(path: str | Path, what: str, error: type[CallassistError] = CallassistError) -> dict[str, Any]:
    """A YAML file that must hold a mapping; ``error`` (naming ``what``) otherwise."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError, ValueError) as exc:
        raise error(f"cannot read the {what} {p}: {exc}") from exc
    if not isinstance(data, dict):
        raise error(f"{p}: a {what} is a mapping of name: value")
    return data


def _plain(value: Any, where: str, error: type[CallassistError]) -> Any:
    """A YAML value as plain JSON data: dates become ISO text, keys text; anything else refused."""
    if isinstance(value, (_dt.date, _dt.datetime, _dt.time)):
        return value.isoformat()
    if isinstance(value, float) and not finite(value):
        raise error(f"{where}: {value!r} is not a usable number")
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, list):
        return [_plain(v, f"{where}[{k}]", error) for k, v in enumerate(value)]
    if isinstance(value, dict):
        return {str(k): _plain(v, f"{where}.{k}", error) for k, v in value.items()}
    raise error(f"{where}: unsupported value {type(value).__name__}")


def load_case_mapping(path: str | Path, error: type[CallassistError] = CallassistError) -> dict[str, Any]:
    """A case file as plain JSON data: an unquoted YAML date (``due_date: 2026-11-15``) is
    kept as the text ``2026-11-15`` rather than breaking the archive's canonical JSON."""
    case: dict[str, Any] = _plain(load_mapping(path, "case file", error), str(path), error)
    return case


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in blocks (``algorithm``: sha256, md5 …)."""
    h = hashlib.new(algorithm)
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fingerprint(paths: Iterable[Path]) -> str:
    """SHA-256 over the names and contents of files (missing ones are skipped): what a result was made from."""
    h = hashlib.sha256()
    for path in paths:
        if path.is_file():
            h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


# ---- private files ------------------------------------------------------------------------
def private_modes() -> tuple[int, int]:
    """``(file mode, folder mode)`` for files holding personal data: 0600/0700, or 0640/0750
    when ``$CALLASSIST_GROUP_ACCESS=1`` lets a QA team's group read them."""
    return (0o640, 0o750) if settings.flag("group_access") else (0o600, 0o700)


def make_private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) with the private folder mode; an existing folder
    that we created is left as it is. Returns ``path``."""
    _, dir_mode = private_modes()
    missing = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for folder in reversed(missing):
        folder.mkdir(mode=dir_mode, exist_ok=True)
        os.chmod(folder, dir_mode)
    return path


def touch_private(path: Path) -> None:
    """Create an empty file with the private mode unless it exists (then its mode is kept)."""
    file_mode, _ = private_modes()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, file_mode)
    os.close(fd)
    os.chmod(path, file_mode)


def chmod_private(path: Path) -> None:
    """Give a file we wrote (or a folder and everything below it) the private modes."""
    file_mode, dir_mode = private_modes()
    if path.is_dir():
        os.chmod(path, dir_mode)
        for p in path.rglob("*"):
            os.chmod(p, dir_mode if p.is_dir() else file_mode)
    elif path.exists():
        os.chmod(path, file_mode)


@contextmanager
def private_tempdir(prefix: str, parent: Path | None = None) -> Iterator[Path]:
    """A 0700 temporary folder that is removed on every path out (errors and Ctrl-C included)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=str(parent) if parent else None))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def write_private_text(path: Path, text: str) -> None:
    """Write a text file (UTF-8) that is private from its first byte."""
    file_mode, _ = private_modes()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, file_mode)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(path, file_mode)


def replace_private(path: Path, data: bytes, *, durable: bool = False) -> None:
    """Write ``path`` whole or not at all: a private temporary file beside it, then a rename
    (``durable``: synced to disk first). A reader never sees half a file."""
    file_mode, _ = private_modes()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, file_mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, file_mode)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# ---- the user's folders -------------------------------------------------------------------
def default_archive() -> "Path | str":
    """``$CALLASSIST_ARCHIVE`` (a file, or a ``postgresql://`` URL), else
    ``$XDG_DATA_HOME/callassist/archive.db`` (``~/.local/share``)."""
    given = settings.get("archive")
    if given:
        from assistant.archive.backend import as_target

        return as_target(given)
    return user_data_dir() / "archive.db"


def user_data_dir() -> Path:
    """The user's data folder for callassist (``$XDG_DATA_HOME/callassist``, ``~/.local/share/…``)."""
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "callassist"


def cache_dir() -> Path:
    """The user's cache folder for callassist (``$XDG_CACHE_HOME/callassist``)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "callassist"


def read_cached(path: Path, kind: type) -> Any:
    """An object kept by :func:`write_cached`, or None when it is missing, damaged or not a ``kind``."""
    import pickle

    try:
        with path.open("rb") as fh:
            value = pickle.load(fh)  # noqa: S301 - our own cache file, in the user's private cache folder
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError, TypeError):
        return None
    return value if isinstance(value, kind) else None


def write_cached(path: Path, value: Any, family: str = "") -> None:
    """Keep a derived object (parsed, validated) for the next start; a read-only home just
    means no cache. Other files of the same ``family`` (name prefix) are outdated versions
    of it and are removed, so the cache does not grow with every upgrade."""
    import pickle

    try:
        make_private_dir(path.parent)
        replace_private(path, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
        for old in path.parent.glob(f"{family}*") if family else ():
            if old != path and old.is_file():
                old.unlink(missing_ok=True)
    except (OSError, pickle.PicklingError, TypeError, AttributeError):
        pass


# ---- zip archives -------------------------------------------------------------------------
def _is_link(info: zipfile.ZipInfo) -> bool:
    mode = info.external_attr >> 16
    return stat.S_ISLNK(mode) if mode else False


def check_zip_members(archive: zipfile.ZipFile, name: str, error: type[CallassistError], max_bytes: int | None = None) -> int:
    """Refuse a zip whose members could escape the target folder or fill the disk.

    Refused: absolute paths, ``..`` parts, drive letters, symbolic links (a link followed
    by a path through it is how zip-slip returns), and, with ``max_bytes``, more unpacked
    bytes than that. Returns the unpacked size the members declare.
    """
    total = 0
    for info in archive.infolist():
        member = info.filename
        parts = Path(member.replace("\\", "/")).parts
        if member.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
            raise error(f"{name}: refusing member {member!r}: it would land outside the folder it is unpacked into")
        if _is_link(info):
            raise error(f"{name}: refusing member {member!r}: it is a symbolic link (links are never unpacked)")
        total += info.file_size
        if max_bytes is not None and total > max_bytes:
            raise error(f"{name}: refusing to unpack: its members declare more than {max_bytes / 1e6:.0f} MB "
                        "(far more than the archive should hold; a damaged or malicious file?)")
    return total


def safe_extract(archive: zipfile.ZipFile, target: Path, name: str, error: type[CallassistError], max_bytes: int | None = None) -> None:
    """Unpack ``archive`` into ``target`` after :func:`check_zip_members`, writing each member
    with a byte count (a member cannot grow past the size it declares) and turning a full
    disk into ``error`` instead of a traceback."""
    declared = check_zip_members(archive, name, error, max_bytes)
    target.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(target).free
    if declared > free:
        raise error(f"{name}: unpacking needs {declared / 1e6:.0f} MB but only {free / 1e6:.0f} MB are free in {target}: free some space")
    root = target.resolve()
    try:
        for info in archive.infolist():
            dest = (target / info.filename).resolve()
            if dest != root and root not in dest.parents:
                raise error(f"{name}: refusing member {info.filename!r}: it would land outside {target}")
            if info.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            written = 0
            with archive.open(info) as src, open(dest, "wb") as out:
                for block in iter(lambda: src.read(1 << 20), b""):
                    written += len(block)
                    if written > info.file_size:
                        raise error(f"{name}: member {info.filename!r} unpacks to more than the {info.file_size} bytes it declares")
                    out.write(block)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise error(f"{name}: the disk filled up while unpacking into {target}; nothing was installed: free some space and run again") from exc
        raise error(f"{name}: cannot unpack into {target} ({exc.strerror or exc})") from exc
    except (zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError) as exc:
        raise error(f"{name}: damaged zip archive ({exc})") from exc
