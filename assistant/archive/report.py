"""QA reports: a batch report and one report per call, as self-contained HTML.

Rendered with Jinja2 (autoescaped). Templates are looked up first in an override folder
(``--templates DIR``, datasette's habit: copy ``assistant/archive/templates/report_*.html``
there and edit), then in the shipped ones. Charts are drawn on the server with matplotlib
as inline SVG (text kept as text, so Chinese labels use the reader's fonts), and the CSS is
inline: a report opens offline, from a USB stick or an e-mail attachment, with no network.

The folder a report is written to holds transcripts (personal data): it is made private
(0700, files 0600). ``redact=True`` masks personal data in every text shown.
"""
from __future__ import annotations

import hashlib
import io
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from assistant.archive.reviews import SEVERITY_ORDER, Flag, ended_calls
from assistant.archive.scorecard import CallScore, Scorecard, agent_scores, score_call
from assistant.errors import ReportError

if TYPE_CHECKING:
    from jinja2 import Environment
    from markupsafe import Markup

    from assistant.archive.store import Archive

TEMPLATES = Path(__file__).parent / "templates"
_SLUG = re.compile(r"[^A-Za-z0-9_.-]+")
COLOURS = {"critical": "#b3261e", "major": "#e8710a", "minor": "#f9ab00", "info": "#5f6368"}


def slug(call_id: str) -> str:
    """A file name for a call id (ids may hold any character)."""
    plain = _SLUG.sub("_", call_id).strip("._") or "call"
    if plain == call_id:
        return plain
    return f"{plain[:60]}-{hashlib.sha256(call_id.encode('utf-8')).hexdigest()[:8]}"


def environment(templates: Path | None = None) -> "Environment":
    """The Jinja2 environment: the override folder first, then the shipped templates."""
    from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

    loaders = [FileSystemLoader(str(templates))] if templates else []
    if templates is not None and not templates.is_dir():
        raise ReportError(f"no template folder {templates}: create it and copy the templates to override from {TEMPLATES}")
    env = Environment(loader=ChoiceLoader([*loaders, FileSystemLoader(str(TEMPLATES))]), autoescape=select_autoescape(["html"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["clock"] = clock
    return env


def clock(seconds: float) -> str:
    """``m:ss`` of a time in the call."""
    s = max(0, int(seconds))
    return f"{s // 60}:{s % 60:02d}"


def bar_chart(items: Sequence[tuple[str, float]], *, colours: Sequence[str] | None = None, unit: str = "", width: float = 6.0) -> "Markup":
    """A horizontal bar chart as inline SVG (empty when there is nothing to draw)."""
    from markupsafe import Markup

    if not items:
        return Markup("")
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    labels = [str(label)[:40] for label, _ in items][::-1]
    values = [float(v) for _, v in items][::-1]
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "callassist", "font.family": ["sans-serif"],
                     "font.sans-serif": ["Noto Sans CJK SC", "WenQuanYi Micro Hei", "DejaVu Sans"], "font.size": 9}):
        fig = Figure(figsize=(width, 0.32 * len(items) + 0.6))
        ax = fig.add_subplot()
        bars = ax.barh(range(len(values)), values, color=list(colours or ["#1a73e8"])[::-1] if colours else "#1a73e8")
        ax.set_yticks(range(len(values)), labels)
        ax.bar_label(bars, labels=[f"{v:g}{unit}" for v in values], padding=3, fontsize=8)
        ax.spines[["top", "right"]].set_visible(False)
        ax.set_xlim(0, max(values + [1.0]) * 1.15)
        fig.tight_layout()
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    svg = buf.getvalue()
    return Markup(svg[svg.index("<svg"):])


@dataclass
class CallView:
    """What a report shows of one call."""

    call_id: str
    agent_id: str
    started_at: str
    lang: str
    status: str
    flags: list[Flag]
    score: CallScore | None
    utterances: list[dict[str, Any]] = field(default_factory=list)
    file: str = ""
    evidence: str = ""

    @property
    def worst(self) -> str:
        """The highest severity among its flags (or "")."""
        present = {f.severity for f in self.flags if f.is_flag}
        return next((s for s in SEVERITY_ORDER if s in present), "")


def _stages(lang: str, call_id: str, utterances: Sequence[dict[str, Any]], flags: Sequence[Flag]) -> dict[int, str]:
    """The call stage at each utterance, re-derived by the live stage tracker from the record."""
    from assistant.events import Finding, Utterance
    from assistant.stages import StageTracker

    tracker = StageTracker(call_id, lang)
    by_seq: dict[int, list[Finding]] = {}
    for f in flags:
        by_seq.setdefault(f.utterance_seq, []).append(
            Finding(f.kind, f.category, f.rule_id, f.severity, f.span[0], f.span[1], f.matched, call_id=call_id, seq=f.utterance_seq))  # type: ignore[arg-type]
    out = {}
    for u in utterances:
        utt = Utterance(call_id, int(u["seq"]), u["speaker"], float(u["start"]), float(u["end"]), str(u["text"]))
        tracker.feed(utt, by_seq.get(utt.seq, []))
        out[utt.seq] = tracker.stage
    return out


def call_views(archive: "Archive", cards: dict[str, Scorecard], call_ids: Iterable[str] | None = None, *, with_lines: bool = False,
               redact: bool = False) -> list[CallView]:
    """The ended calls (default: all) with their flags and current scores."""
    from assistant.archive.export import call_redactor

    views = []
    for c, flags in ended_calls(archive, call_ids):
        cid = c["call_id"]
        card = cards.get(str(c.get("lang") or ""))
        score = score_call(card, cid, flags, agent_id=str(c.get("agent_id") or ""), started_at=str(c.get("started_at") or "")) if card else None
        view = CallView(cid, str(c.get("agent_id") or ""), str(c.get("started_at") or ""), str(c.get("lang") or ""), c["status"], flags, score)
        if with_lines:
            rows = [dict(r) for r in archive.conn.execute("SELECT seq, speaker, start, [end], conf, text FROM utterances WHERE call_id = ? ORDER BY pos", (cid,))]
            stages = _stages(view.lang or "zh", cid, rows, view.flags)
            masker = call_redactor(archive.records(cid), cid) if redact else None  # as a redacted evidence bundle masks
            for r in rows:
                r["stage"] = stages.get(int(r["seq"]), "")
                r["flags"] = [f for f in view.flags if f.utterance_seq == r["seq"]]
                if masker is not None:
                    r["text"] = masker.mask(str(r["text"]))
            if masker is not None:
                for f in view.flags:
                    f.matched, f.text = masker.mask(f.matched), masker.mask(f.text)
                    f.history = [replace(h, note=masker.mask(h.note)) for h in f.history]
            view.utterances = rows
        views.append(view)
    return views


def charts(views: Sequence[CallView], labels: Any) -> dict[str, "Markup"]:
    """The batch report's charts: flags by category, severity, agent and day; mean score by agent."""
    flags = [f for v in views for f in v.flags if f.is_flag]
    by_category = Counter(labels.category(f.category) for f in flags).most_common(15)
    severities = Counter(f.severity for f in flags)
    by_severity = [(labels.severity(s), float(severities[s])) for s in SEVERITY_ORDER if severities[s]]
    sev_colours = [COLOURS[s] for s in SEVERITY_ORDER if severities[s]]
    by_agent = Counter(v.agent_id or "-" for v in views for f in v.flags if f.is_flag).most_common(15)
    by_day = sorted(Counter((v.started_at or "")[:10] or "-" for v in views for f in v.flags if f.is_flag).items())
    scores = [s for s in (v.score for v in views) if s is not None]
    mean_by_agent = [(a.agent_id, a.mean) for a in agent_scores(scores)][:15]
    return {
        "category": bar_chart([(k, float(n)) for k, n in by_category]),
        "severity": bar_chart(by_severity, colours=sev_colours),
        "agent": bar_chart([(k, float(n)) for k, n in by_agent]),
        "day": bar_chart([(k, float(n)) for k, n in by_day]),
        "score": bar_chart(mean_by_agent, colours=["#188038"] * len(mean_by_agent)),
    }


@dataclass(frozen=True)
class ReportResult:
    """Where a report went and what it holds."""

    index: Path
    calls: int
    flags: int
    asr_review: int


def write_report(archive: "Archive", out: Path, cards: dict[str, Scorecard], *, lang: str = "zh", templates: Path | None = None,
                 call_ids: Sequence[str] | None = None, evidence: bool = False, redact: bool = False,
                 progress: Callable[[str], None] | None = None) -> ReportResult:
    """Write ``out/index.html`` (the batch) and ``out/calls/*.html`` (one per call); with
    ``evidence``, each call's evidence bundle as ``out/evidence/*.zip``, linked from its page."""
    from jinja2 import TemplateError

    from assistant.files import make_private_dir, write_private_text
    from assistant.views.labels import labels as labels_of

    labels = labels_of(lang)
    env = environment(templates)
    views = call_views(archive, cards, call_ids, with_lines=True, redact=redact)
    if call_ids is not None and not views:
        raise ReportError(f"none of the calls asked for is an ended call in {archive.path}: `callassist archive calls` lists them")
    make_private_dir(out)
    make_private_dir(out / "calls")
    if evidence:
        from assistant.archive.export import export_call

        make_private_dir(out / "evidence")
    generated = datetime.now(timezone.utc).isoformat(timespec="seconds")
    used = sorted({f"{c.name} v{c.version} ({c.sha256[:12]})" for c in cards.values()})
    try:
        for view in views:
            view.file = f"calls/{slug(view.call_id)}.html"
            if evidence:
                bundle = out / "evidence" / f"{slug(view.call_id)}.zip"
                bundle.unlink(missing_ok=True)
                export_call(archive, view.call_id, bundle, redact=redact, include_audio=not redact, mute_unaligned=True)
                view.evidence = f"../evidence/{bundle.name}"
            page = env.get_template("report_call.html").render(call=view, L=labels, T=labels.qa, generated=generated, redacted=redact,
                                                               chart=bar_chart([(k, float(n)) for k, n in Counter(labels.category(f.category) for f in view.flags if f.is_flag).most_common()]))
            write_private_text(out / view.file, page)
            if progress:
                progress(view.call_id)
        scores = [v.score for v in views if v.score is not None]
        result = ReportResult(out / "index.html", len(views), sum(1 for v in views for f in v.flags if f.is_flag), sum(s.asr_review for s in scores))
        index = env.get_template("report_batch.html").render(
            calls=views, L=labels, T=labels.qa, generated=generated, redacted=redact, charts=charts(views, labels), agents=agent_scores(scores),
            scorecards=used, asr_review=result.asr_review, flags=result.flags)
    except TemplateError as exc:
        where = f" ({getattr(exc, 'filename', '')}:{getattr(exc, 'lineno', '')})" if getattr(exc, "filename", None) else ""
        raise ReportError(f"the report template failed{where}: {exc}") from exc
    write_private_text(result.index, index)
    return result


__all__ = ["CallView", "ReportResult", "bar_chart", "call_views", "environment", "slug", "write_report"]
