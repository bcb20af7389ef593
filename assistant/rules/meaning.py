"""The meaning layer: a sentence classifier that catches what keywords miss.

Veiled threats ("it would be a shame if something happened to that nice car") carry no
keyword; a one-vs-rest logistic classifier over multilingual sentence embeddings learns
the categories from example utterances the team wrote (``lexicons/*/training/*.jsonl``,
never the dev set). It only runs on final utterances, and it defers to the rule layer's
reading of context: a category whose keyword match was negated, quoted or framed
lawfully is not raised again by the classifier.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

import numpy as np

from assistant._jsonl import json_objects
from assistant.constants import CUE_CATEGORIES, LANGUAGES, VIOLATION_CATEGORIES
from assistant.errors import MeaningModelError, StaleModelWarning
from assistant.events import Finding, as_kind, as_severity
from assistant.files import fingerprint
from assistant.rules.context import ContextRules
from assistant.rules.engine import Candidate
from assistant.rules.loader import Lexicon, language_normalizer, lexicon_root, load_language_config
from assistant.text import NormalizedText

if TYPE_CHECKING:
    from assistant.rules.encoder import Encoder


ROLES: dict[str, tuple[str, ...]] = {"agent": VIOLATION_CATEGORIES, "customer": CUE_CATEGORIES}
MODEL_FILE = "meaning_model.npz"


@dataclass(frozen=True)
class Example:
    """One labelled training utterance."""

    text: str
    speaker: str
    labels: tuple[str, ...]
    lang: str


@dataclass
class RoleModel:
    """Weights of one speaker role's classifier: a one-hidden-layer network, one sigmoid per category."""

    categories: tuple[str, ...]
    w1: np.ndarray  # (512 + 3 context flags, H)
    b1: np.ndarray  # (H,)
    w2: np.ndarray  # (H, C)
    b2: np.ndarray  # (C,)
    thresholds: dict[str, np.ndarray]  # language -> (C,)

    def probabilities(self, vecs: np.ndarray) -> np.ndarray:
        """Per-category probabilities for network inputs ``(n, 515) -> (n, C)`` (see :func:`inputs`)."""
        return _forward((self.w1, self.b1, self.w2, self.b2), vecs)


MEANING_MAX_CHARS = 1000  # the classifier reads an utterance's first 1,000 characters (a turn is far shorter;
# a longer line is a transcript pasted as one, and the rule layer still reads all of it)


def _forward(params: tuple[np.ndarray, ...], vecs: np.ndarray) -> np.ndarray:
    w1, b1, w2, b2 = params
    hidden = np.maximum((vecs * _SCALE) @ w1 + b1, 0.0)
    scores: np.ndarray = 1.0 / (1.0 + np.exp(-(hidden @ w2 + b2)))
    return scores


_SCALE = float(np.sqrt(512))  # unit vectors → unit-variance features
_CONTEXT_WEIGHT = 3.0  # context flags enter the network at three times an embedding dimension's scale


def inputs(vecs: np.ndarray, context: np.ndarray) -> np.ndarray:
    """Network inputs: sentence embeddings plus the context flags of :meth:`ContextRules.features`."""
    return np.hstack([vecs, context * (_CONTEXT_WEIGHT / _SCALE)]).astype(np.float32)

def training_files(root: Path | None = None) -> list[Path]:
    """The training corpora of every language, sorted."""
    root = root or lexicon_root()
    return sorted(p for lang in LANGUAGES for p in (root / lang / "training").glob("*.jsonl"))


def training_digest(root: Path | None = None) -> str:
    """A hash of what training reads: the corpora, and each language's normalisation and
    context settings (not the rule layer's `unless_sets`, which the model never sees)."""
    import dataclasses
    import hashlib
    import json

    root = root or lexicon_root()
    settings = {lang: {k: v for k, v in dataclasses.asdict(load_language_config(lang, root)).items() if k != "unless_sets"} for lang in LANGUAGES}
    h = hashlib.sha256(fingerprint(training_files(root)).encode())
    h.update(json.dumps(settings, sort_keys=True, ensure_ascii=False).encode())
    return h.hexdigest()[:16]


def load_examples(root: Path | None = None) -> list[Example]:
    """Read every training corpus; raises :class:`MeaningModelError` on a bad line."""
    out = []
    for path in training_files(root):
        lang = path.parent.parent.name
        for no, row in json_objects(path, MeaningModelError):
            speaker = row.get("speaker", "agent")
            labels = tuple(row.get("labels") or ())
            bad = [c for c in labels if c not in ROLES.get(speaker, ())]
            if speaker not in ROLES or bad or not isinstance(row.get("text"), str):
                raise MeaningModelError(f"{path}:{no}: bad example (speaker {speaker!r}, labels {bad or labels})")
            out.append(Example(row["text"], speaker, labels, lang))
    return out


def _fit(
    x: np.ndarray, y: np.ndarray, hidden: int = 256, epochs: int = 300, lr: float = 0.003,
    l2: float = 1e-4, dropout: float = 0.2, seed: int = 0,
) -> tuple[np.ndarray, ...]:
    """Train the network by full-batch Adam with dropout; positives up-weighted per category."""
    rng = np.random.default_rng(seed)
    n, d = x.shape
    c = y.shape[1]
    params = [
        rng.normal(0.0, np.sqrt(2.0 / d), (d, hidden)),
        np.zeros(hidden),
        rng.normal(0.0, np.sqrt(1.0 / hidden), (hidden, c)),
        np.zeros(c),
    ]
    moments = [np.zeros_like(p) for p in params]
    squares = [np.zeros_like(p) for p in params]
    pos = y.sum(axis=0)
    weight = np.where(y > 0, np.where(pos > 0, (n - pos) / np.maximum(pos, 1), 1.0) ** 0.5, 1.0)
    xs = x * _SCALE
    for t in range(1, epochs + 1):
        pre = xs @ params[0] + params[1]
        keep = (rng.random(pre.shape) > dropout) / (1.0 - dropout)
        act = np.maximum(pre, 0.0) * keep
        prob = 1.0 / (1.0 + np.exp(-(act @ params[2] + params[3])))
        g_out = (prob - y) * weight / n
        g_act = (g_out @ params[2].T) * (pre > 0) * keep
        grads = [xs.T @ g_act + l2 * params[0], g_act.sum(axis=0), act.T @ g_out + l2 * params[2], g_out.sum(axis=0)]
        for k, grad in enumerate(grads):
            moments[k] = 0.9 * moments[k] + 0.1 * grad
            squares[k] = 0.999 * squares[k] + 0.001 * grad * grad
            params[k] -= lr * (moments[k] / (1 - 0.9**t)) / (np.sqrt(squares[k] / (1 - 0.999**t)) + 1e-8)
    return tuple(p.astype(np.float32) for p in params)


def _pick_thresholds(probs: np.ndarray, y: np.ndarray, floor: float, false_alarm_budget: float) -> np.ndarray:
    """Per-category thresholds from out-of-fold predictions.

    Start from the threshold that maximises each category's F1, then raise the threshold
    that costs the fewest true positives per false alarm removed until the share of clean
    lines with any finding is within ``false_alarm_budget``.
    """
    grid = np.round(np.arange(floor, 0.991, 0.01), 3)
    c = y.shape[1]
    out = np.full(c, floor)
    for k in range(c):
        best = -1.0
        for t in grid:
            pred = probs[:, k] >= t
            tp = float((pred & (y[:, k] > 0)).sum())
            f1 = 2 * tp / (2 * tp + float((pred & (y[:, k] == 0)).sum()) + float((~pred & (y[:, k] > 0)).sum())) if tp else 0.0
            if f1 > best + 1e-9:
                best, out[k] = f1, t
    clean = ~y.any(axis=1)
    while True:
        fired = probs >= out
        alarms = fired[clean].any(axis=1)
        if not clean.any() or alarms.mean() <= false_alarm_budget:
            break
        choice, score = -1, np.inf
        for k in range(c):
            if out[k] >= grid[-1]:
                continue
            raised = out.copy()
            raised[k] = min(grid[-1], out[k] + 0.01)
            after = probs >= raised
            gained = alarms.sum() - after[clean].any(axis=1).sum()
            lost = (fired[:, k] & ~after[:, k] & (y[:, k] > 0)).sum()
            cost = (lost + 0.01) / (gained + 1e-3)
            if cost < score:
                choice, score = k, cost
        if choice < 0:
            break
        out[choice] = min(grid[-1], out[choice] + 0.01)
    return out.astype(np.float32)


FALSE_ALARM_BUDGET = {"agent": 0.05, "customer": 0.10}  # agent: the product target, measured on hard near-misses


def train_role(
    vecs: np.ndarray, examples: Sequence[Example], role: str, folds: int = 5, floor: float = 0.5, seed: int = 7
) -> tuple[RoleModel, dict[str, Any]]:
    """Train one role's classifier; thresholds come from ``folds``-fold cross-validation.

    The clean lines of the corpora are near-misses on purpose (negated threats, lawful
    statements, quotes), so the false-alarm budget is measured on the hardest lines.
    """
    cats = ROLES[role]
    idx = np.array([k for k, e in enumerate(examples) if e.speaker == role])
    langs = np.array([examples[k].lang for k in idx])
    x = vecs[idx]
    y = np.array([[1.0 if c in examples[k].labels else 0.0 for c in cats] for k in idx])
    order = np.random.default_rng(seed).permutation(len(idx))
    oof = np.zeros_like(y)
    for f in range(folds):
        test = order[f::folds]
        train = np.setdiff1d(order, test)
        oof[test] = _forward(_fit(x[train], y[train]), x[test])
    thresholds: dict[str, np.ndarray] = {}
    pred = np.zeros_like(y, dtype=bool)
    for lang in sorted(set(langs)):
        mask = langs == lang
        thresholds[lang] = _pick_thresholds(oof[mask], y[mask], floor, FALSE_ALARM_BUDGET[role])
        pred[mask] = oof[mask] >= thresholds[lang]
    w1, b1, w2, b2 = _fit(x, y)
    report: dict[str, Any] = {"examples": int(len(idx))}
    for lang in sorted(thresholds):
        mask = langs == lang
        gold, fired = y[mask].any(axis=1), pred[mask].any(axis=1)
        tp = int((gold & fired).sum())
        report[lang] = {
            "line_precision": tp / max(1, int(fired.sum())),
            "line_recall": tp / max(1, int(gold.sum())),
            "false_alarm_rate": int((fired & ~gold).sum()) / max(1, int((~gold).sum())),
        }
    return RoleModel(cats, w1, b1, w2, b2, thresholds), report


def train(root: Path | None = None, encoder: Encoder | None = None, progress: Callable[[str], None] | None = None) -> tuple[Path, dict[str, Any]]:
    """Train both roles on every language's corpus and write ``lexicons/meaning_model.npz``."""
    from assistant.rules.encoder import shared_encoder

    root = root or lexicon_root()
    examples = load_examples(root)
    if not examples:
        raise MeaningModelError(f"no training examples under {root}/*/training/")
    configs = {lang: load_language_config(lang, root) for lang in LANGUAGES}
    normalizers = {lang: language_normalizer(lang, root) for lang in configs}
    contexts = {lang: ContextRules(cfg) for lang, cfg in configs.items()}
    texts = [normalizers[e.lang](e.text).text for e in examples]
    enc = encoder or shared_encoder()
    if progress:
        progress(f"embedding {len(texts)} examples")
    flags = np.array([contexts[e.lang].features(t) for e, t in zip(examples, texts)], dtype=np.float32)
    vecs = inputs(enc.encode(texts), flags)
    arrays: dict[str, np.ndarray] = {"digest": np.array(training_digest(root))}
    reports = {}
    for role in ROLES:
        if progress:
            progress(f"training {role} classifier")
        model, reports[role] = train_role(vecs, examples, role)
        for name in ("w1", "b1", "w2", "b2"):
            arrays[f"{role}_{name}"] = getattr(model, name)
        for lang, values in model.thresholds.items():
            arrays[f"{role}_thresholds_{lang}"] = values
        arrays[f"{role}_categories"] = np.array(model.categories)
    path = root / MODEL_FILE
    np.savez_compressed(path, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as the allow_pickle flag
    return path, reports


def read_model(root: Path | None = None) -> tuple[dict[str, RoleModel], str]:
    """Load the trained weights and the training digest they were made from."""
    path = (root or lexicon_root()) / MODEL_FILE
    if not path.exists():
        raise MeaningModelError(f"meaning model {path} not found: run `callassist rules train` (or check with --no-meaning)")
    data = np.load(path)
    models = {
        role: RoleModel(
            tuple(str(c) for c in data[f"{role}_categories"]),
            data[f"{role}_w1"],
            data[f"{role}_b1"],
            data[f"{role}_w2"],
            data[f"{role}_b2"],
            {lang: data[f"{role}_thresholds_{lang}"] for lang in LANGUAGES if f"{role}_thresholds_{lang}" in data},
        )
        for role in ROLES
    }
    return models, str(data["digest"])


class MeaningLayer:
    """Sentence-level findings for one language, fused with the rule layer's candidates."""

    def __init__(self, lexicon: Lexicon, models: dict[str, RoleModel], context: ContextRules | None = None, encoder: Encoder | None = None) -> None:
        self.lexicon = lexicon
        self.models = models
        self.context = context or ContextRules(lexicon.config)
        self._encoder = encoder

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            from assistant.rules.encoder import shared_encoder

            self._encoder = shared_encoder()
        return self._encoder

    def warm_up(self) -> None:
        """Load the encoder weights now (about a second) instead of on the first utterance."""
        self.encoder.encode(["warm up"])

    def scores(self, texts: Sequence[str], speaker: str) -> np.ndarray:
        """Per-category probabilities ``(n, C)`` of normalised texts for ``speaker``."""
        flags = np.array([self.context.features(t) for t in texts], dtype=np.float32).reshape(len(texts), 3)
        return self.models[speaker].probabilities(inputs(self.encoder.encode(texts), flags))

    def findings(
        self,
        norm: NormalizedText,
        speaker: str,
        candidates: Iterable[Candidate],
        rule_findings: Sequence[Finding],
    ) -> list[Finding]:
        """Categories the classifier sees that the rules neither found nor explicitly cleared."""
        model = self.models[speaker]
        probs = self.scores([norm.text[:MEANING_MAX_CHARS]], speaker)[0]
        found = {f.category for f in rule_findings}
        cleared = {c.rule.category for c in candidates if c.suppressed_by}
        out = []
        thresholds = model.thresholds.get(self.lexicon.lang)
        if thresholds is None:
            return []
        for cat, p, t in zip(model.categories, probs, thresholds):
            if p < t or cat in found or cat in cleared or cat not in self.lexicon.categories:
                continue
            info = self.lexicon.categories[cat]
            sep = "；" if self.lexicon.lang == "zh" else "; "
            out.append(
                Finding(
                    kind=as_kind(info.kind),
                    category=cat,
                    rule_id=f"{self.lexicon.lang}.{cat}.meaning",
                    severity=as_severity(info.severity),
                    start=0,
                    end=len(norm.original),
                    matched=norm.original,
                    citation=sep.join(info.citation),
                    explanation=info.explanation,
                    suggestion=info.suggestion,
                    source="meaning",
                    score=float(p),
                    extra={"verification": info.verification, "threshold": round(float(t), 3)},
                )
            )
        return out


@lru_cache(maxsize=4)
def _checked_models(root: str, mtime_ns: int) -> dict[str, RoleModel]:
    """Read the weights once per model file version (both languages share them), warning
    when they are older than the corpora."""
    models, digest = read_model(Path(root))
    current = training_digest(Path(root))
    if digest != current:
        warnings.warn(StaleModelWarning(f"the meaning model was trained on other data ({digest}, corpora now {current}): "
                                        "run `callassist rules train`"), stacklevel=2)
    return models


def load_meaning_layer(lexicon: Lexicon, root: Path | None = None, context: ContextRules | None = None) -> MeaningLayer:
    """The meaning layer for ``lexicon`` (weights read once per process and model file)."""
    root = root or lexicon_root()
    path = root / MODEL_FILE
    mtime = path.stat().st_mtime_ns if path.exists() else 0
    return MeaningLayer(lexicon, _checked_models(str(root), mtime), context)
