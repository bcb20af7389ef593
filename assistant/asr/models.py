"""Speech models: where they live, how to find one, how to download the official ones.

Official Vosk models are listed in ``model-list.json`` beside the archives (name,
language, size in bytes, MD5). ``pull`` reads that list, downloads the archive into the
user cache directory with resume, checks size and MD5, unpacks it safely and records a
small manifest (including the archive's SHA-256) in the model directory.
"""
from __future__ import annotations

import json
import os
import shutil
import time
import urllib.error
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from assistant import settings
from assistant.errors import ModelDownloadError, ModelNotFoundError
from assistant.files import cache_dir, file_digest, safe_extract

DEFAULT_BASE_URL = "https://alphacephei.com/vosk/models/"
MANIFEST = ".callassist-model.json"


@dataclass(frozen=True)
class Alias:
    """A short name for an official model."""

    alias: str
    name: str
    lang: str
    about: str


ALIASES: tuple[Alias, ...] = (
    Alias("zh", "vosk-model-small-cn-0.22", "zh", "Mandarin, small (about 42 MB): live calls on an agent's PC"),
    Alias("zh-large", "vosk-model-cn-0.22", "zh", "Mandarin, large (about 1.3 GB): servers, QA of recordings"),
    Alias("en", "vosk-model-small-en-us-0.15", "en", "US English, small (about 40 MB): live calls on an agent's PC"),
    Alias("en-large", "vosk-model-en-us-0.22", "en", "US English, large (about 1.8 GB): servers, QA of recordings"),
)
_LANG_NAMES = {"zh": "Mandarin", "en": "US English"}
_CATALOGUE_LANGS = {"cn": "zh", "zh": "zh", "en-us": "en", "en": "en"}

Progress = Callable[[int, int], None]
"""``progress(bytes_done, bytes_total)``; ``bytes_total`` is 0 when unknown."""


@dataclass(frozen=True)
class CatalogueEntry:
    """One downloadable model as the publisher lists it."""

    name: str
    lang: str
    url: str
    size: int
    md5: str


@dataclass(frozen=True)
class InstalledModel:
    """A model directory found in the cache."""

    name: str
    lang: str
    path: Path
    size: int
    sha256: str = ""


def models_dir() -> Path:
    """Where pulled models live: ``$CALLASSIST_MODELS``, else the user cache directory."""
    given = settings.get("models")
    if given:
        return Path(given).expanduser()
    return cache_dir() / "models"


def base_url() -> str:
    """Where archives and ``model-list.json`` are fetched: ``$CALLASSIST_MODEL_URL`` (a mirror) or Vosk's site."""
    url = settings.get("model_url") or DEFAULT_BASE_URL
    return url if url.endswith("/") else url + "/"


def _looks_like_model(path: Path) -> bool:
    return (path / "am" / "final.mdl").is_file() or (path / "final.mdl").is_file()


def check_model_dir(path: Path) -> Path:
    """``path`` if it is a Vosk model directory (or holds exactly one), else a clear error."""
    path = path.expanduser()
    if not path.exists():
        raise ModelNotFoundError(f"{path}: no such model directory (get one with `callassist models pull zh` or `... pull en`)")
    if path.is_file():
        hint = f"`callassist models install {path}`" if path.suffix == ".zip" else "`callassist models pull zh`"
        raise ModelNotFoundError(f"{path} is a file, not a model directory: unpack it with {hint}")
    if _looks_like_model(path):
        return path.resolve()
    inner = [p for p in path.iterdir() if p.is_dir() and _looks_like_model(p)]
    if len(inner) == 1:
        return inner[0].resolve()
    raise ModelNotFoundError(
        f"{path} is not a Vosk model (no am/final.mdl inside); pass the unpacked model folder, "
        "e.g. ~/.cache/callassist/models/vosk-model-small-cn-0.22"
    )


def _lang_of_name(name: str) -> str:
    for alias in ALIASES:
        if alias.name == name:
            return alias.lang
    lowered = name.lower()
    if "-cn-" in lowered or lowered.endswith("-cn") or "-zh" in lowered:
        return "zh"
    if "-en-" in lowered or lowered.endswith("-en"):
        return "en"
    return "?"


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def model_language(path: Path) -> str | None:
    """``zh``/``en`` for a model directory, from its manifest or its official name; None if unknown."""
    try:
        lang = json.loads((path / MANIFEST).read_text(encoding="utf-8")).get("lang")
    except (OSError, ValueError):
        lang = None
    lang = lang or _lang_of_name(path.name)
    return lang if lang in _LANG_NAMES else None


def installed_models(root: Path | None = None) -> list[InstalledModel]:
    """Every model directory in the cache, with its language and size on disk."""
    root = root or models_dir()
    if not root.is_dir():
        return []
    found = []
    for path in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if not _looks_like_model(path):
            continue
        manifest: dict[str, Any] = {}
        if (path / MANIFEST).is_file():
            try:
                manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                manifest = {}
        lang = manifest.get("lang") or _lang_of_name(path.name)
        found.append(InstalledModel(path.name, lang, path, _dir_size(path), manifest.get("sha256", "")))
    return found


def _alias(spec: str) -> Alias | None:
    return next((a for a in ALIASES if spec in (a.alias, a.name)), None)


def locate_model(spec: str | None = None, lang: str = "zh", root: Path | None = None) -> Path:
    """The model directory to use.

    ``spec`` (from ``--model``) may be a directory, an alias (``zh``, ``en-large``) or a
    model name in the cache. Without it: ``$CALLASSIST_MODEL``, then an installed model of
    ``lang`` (the large one if both are there). Otherwise :class:`ModelNotFoundError`
    naming the pull command.
    """
    root = root or models_dir()
    if spec:
        as_path = Path(spec).expanduser()
        if as_path.exists() or os.sep in spec or spec.startswith("."):
            return check_model_dir(as_path)
        alias = _alias(spec)
        name = alias.name if alias else spec
        if (root / name).is_dir():
            return check_model_dir(root / name)
        raise ModelNotFoundError(
            f"model {spec!r} is neither a directory nor installed in {root}: run `callassist models pull {spec}`"
        )
    env = settings.get("model")
    if env:
        return check_model_dir(Path(env))
    mine = [m for m in installed_models(root) if m.lang == lang]
    if mine:
        order = [a.name for a in ALIASES if a.lang == lang][::-1]  # large first
        mine.sort(key=lambda m: order.index(m.name) if m.name in order else len(order))
        return mine[0].path
    name = _LANG_NAMES.get(lang, lang)
    small = next((a for a in ALIASES if a.alias == lang), None)
    size = f" ({small.about.split('(')[1].split(')')[0]})" if small else ""
    raise ModelNotFoundError(
        f"no {name} speech model found in {root}: run `callassist models pull {lang}`{size}, "
        "or pass --model PATH (or set CALLASSIST_MODEL) to use a model you already have"
    )


UNPACK_FACTOR = 4  # a model unpacks to at most this many times its archive's size (Kaldi models: about 1.3-2.5)
UNPACK_FLOOR = 256 * 1024 * 1024  # ... or this much, for tiny archives


def _check_url(url: str, what: str) -> str:
    """Only http(s): a model list must not point us at local files (file://) or other schemes."""
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme not in ("http", "https"):
        raise ModelDownloadError(f"{what} {url!r} is not an http(s) address: only http:// and https:// downloads are allowed")
    return url


def _open(url: str, timeout: float, headers: dict[str, str] | None = None) -> Any:
    import urllib.request

    request = urllib.request.Request(_check_url(url, "URL"), headers={"User-Agent": "callassist", **(headers or {})})
    return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - checked to be http(s) above


def fetch_catalogue(url: str | None = None, timeout: float = 30.0) -> list[CatalogueEntry]:
    """The publisher's model list (``model-list.json`` under the base URL)."""
    base = url or base_url()
    list_url = base + "model-list.json"
    try:
        with _open(list_url, timeout) as response:
            data = json.loads(response.read().decode("utf-8"))
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ModelDownloadError(
            f"cannot fetch the model list {list_url} ({reason}). Check the network or proxy, set "
            "CALLASSIST_MODEL_URL to a mirror, or copy the .zip here by hand and run `callassist models install FILE.zip`"
        ) from exc
    except (ValueError, RecursionError) as exc:
        raise ModelDownloadError(f"{list_url} is not a JSON model list ({exc}): is CALLASSIST_MODEL_URL right?") from exc
    entries = []
    for item in data if isinstance(data, list) else []:
        if not isinstance(item, dict) or "name" not in item:
            continue
        try:
            size = int(item.get("size") or 0)
        except (TypeError, ValueError):
            size = 0
        entries.append(
            CatalogueEntry(
                name=str(item["name"]),
                lang=_CATALOGUE_LANGS.get(str(item.get("lang", "")), str(item.get("lang", ""))),
                url=str(item.get("url") or base + f"{item['name']}.zip"),
                size=max(size, 0),
                md5=str(item.get("md5") or ""),
            )
        )
    return entries


def _find_entry(spec: str, catalogue: list[CatalogueEntry]) -> CatalogueEntry:
    alias = _alias(spec)
    name = alias.name if alias else spec
    for entry in catalogue:
        if entry.name == name:
            return entry
    known = ", ".join(a.alias for a in ALIASES)
    raise ModelDownloadError(f"no model named {spec!r} in the model list: use one of {known} or a full vosk-model-… name")


def _download(entry: CatalogueEntry, part: Path, progress: Progress | None, timeout: float, retries: int) -> None:
    """Fetch ``entry.url`` into ``part``, resuming from what is already there."""
    for attempt in range(retries + 1):
        have = part.stat().st_size if part.exists() else 0
        if entry.size and have == entry.size:
            return
        if entry.size and have > entry.size:
            part.unlink()
            have = 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            with _open(entry.url, timeout, headers) as response:
                status = getattr(response, "status", 200)
                if have and status != 206:
                    have = 0  # the server ignored the range: start again
                length = int(response.headers.get("Content-Length") or 0)
                total = entry.size or (have + length if length else 0)
                with part.open("ab" if have else "wb") as out:
                    done = have
                    if progress:
                        progress(done, total)
                    for block in iter(lambda: response.read(1 << 16), b""):
                        out.write(block)
                        done += len(block)
                        if progress:
                            progress(done, total)
                if length and done < have + length:
                    raise ModelDownloadError(f"connection closed after {done} of {have + length} bytes")
            if not entry.size or part.stat().st_size >= entry.size:
                return
        except (urllib.error.URLError, OSError, ModelDownloadError) as exc:
            if isinstance(exc, urllib.error.HTTPError) and exc.code == 416 and have:
                part.unlink()  # our partial file does not fit this archive any more
                continue
            if isinstance(exc, urllib.error.HTTPError) and exc.code in (403, 404):
                raise ModelDownloadError(f"{entry.url}: HTTP {exc.code}; is the model name right?") from exc
            if attempt == retries:
                got = part.stat().st_size if part.exists() else 0
                raise ModelDownloadError(
                    f"download of {entry.name} failed after {retries + 1} attempt(s) ({getattr(exc, 'reason', exc)}); "
                    f"{got} bytes are kept in {part}: run the same command again to resume"
                ) from exc
            time.sleep(min(0.5 * 2.0**attempt, 8.0))


def install_archive(zip_path: Path, root: Path | None = None, *, name: str | None = None, extra: dict[str, Any] | None = None,
                    published_size: int | None = None) -> Path:
    """Unpack a model ``.zip`` into the cache (atomically) and return the model directory.

    The unpacked size is capped at :data:`UNPACK_FACTOR` times the published (or the
    file's own) size, so a zip bomb is refused rather than installed; links and paths
    outside the folder are refused too.
    """
    root = root or models_dir()
    size = published_size or zip_path.stat().st_size
    cap = max(size * UNPACK_FACTOR, UNPACK_FLOOR)
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".unpack-{os.getpid()}-{zip_path.stem}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        try:
            with zipfile.ZipFile(zip_path) as archive:
                safe_extract(archive, tmp, zip_path.name, ModelDownloadError, cap)
        except zipfile.BadZipFile as exc:
            raise ModelDownloadError(f"{zip_path} is not a zip archive ({exc}): delete it and download it again") from exc
        try:
            model = check_model_dir(tmp)
        except ModelNotFoundError as exc:
            raise ModelDownloadError(f"{zip_path} does not contain a Vosk model (no am/final.mdl)") from exc
        final = root / (name or (model.name if model != tmp.resolve() else zip_path.stem))
        manifest = {
            "name": final.name,
            "lang": _lang_of_name(final.name),
            "archive": zip_path.name,
            "sha256": file_digest(zip_path),
            "installed": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **(extra or {}),
        }
        (model / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False), encoding="utf-8")
        if final.exists():
            shutil.rmtree(final)
        model.rename(final)
        return final
    except OSError as exc:
        raise ModelDownloadError(f"cannot install {zip_path.name} into {root} ({exc.strerror or exc}); nothing was installed") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def pull(
    spec: str,
    root: Path | None = None,
    *,
    url: str | None = None,
    progress: Progress | None = None,
    force: bool = False,
    timeout: float = 30.0,
    retries: int = 3,
) -> Path:
    """Download, check and unpack an official model (``zh``, ``en``, ``zh-large``, ``en-large`` or a full name).

    An interrupted download is kept as ``NAME.zip.part`` and resumed by the next call. The
    archive must match the published size and MD5; it is removed once unpacked.
    """
    root = root or models_dir()
    entry = _find_entry(spec, fetch_catalogue(url, timeout))
    _check_url(entry.url, f"the model list's address for {entry.name}")
    target = root / entry.name
    if target.is_dir() and _looks_like_model(target) and not force:
        return target
    root.mkdir(parents=True, exist_ok=True)
    part = root / f"{entry.name}.zip.part"
    free = shutil.disk_usage(root).free
    needed = int(entry.size * 2.2) - (part.stat().st_size if part.exists() else 0)
    if entry.size and free < needed:
        raise ModelDownloadError(
            f"{entry.name} needs about {needed / 1e6:.0f} MB free in {root} (archive plus unpacked), "
            f"only {free / 1e6:.0f} MB are free: free some space or set CALLASSIST_MODELS to another disk"
        )
    _download(entry, part, progress, timeout, retries)
    got = part.stat().st_size
    if entry.size and got != entry.size:
        part.unlink()
        raise ModelDownloadError(f"{entry.name}: got {got} bytes, the model list says {entry.size}; the partial file was removed, run again")
    if entry.md5:
        md5 = file_digest(part, "md5")
        if md5 != entry.md5.lower():
            part.unlink()
            raise ModelDownloadError(f"{entry.name}: MD5 {md5} does not match the published {entry.md5}; the file was removed, run again")
    archive = part.with_suffix("")  # NAME.zip
    part.rename(archive)
    try:
        return install_archive(archive, root, name=entry.name, extra={"url": entry.url, "md5": entry.md5, "size": entry.size, "lang": entry.lang},
                               published_size=entry.size or None)
    finally:
        archive.unlink(missing_ok=True)
