"""Score the checker against labelled utterances (the TAXONOMY.md labelled format).

The figures match ``shared/tools/score.py``: line-level precision/recall/F1 per speaker
(a line counts as found when any finding of the right kind is raised), the false-alarm
rate on clean agent lines, and per-category recall/precision; plus hits per rule.
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from assistant.events import Finding

WANT_KIND = {"agent": "violation", "customer": "cue"}


@dataclass
class LineCounts:
    """Line-level confusion counts for one speaker."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def false_alarm_rate(self) -> float:
        clean = self.fp + self.tn
        return self.fp / clean if clean else 0.0

    @property
    def lines(self) -> int:
        return self.tp + self.fp + self.fn + self.tn


@dataclass
class Report:
    """Everything ``callassist eval`` prints, per language."""

    speakers: dict[str, LineCounts] = field(default_factory=lambda: defaultdict(LineCounts))
    cat_gold: Counter[str] = field(default_factory=Counter)
    cat_pred: Counter[str] = field(default_factory=Counter)
    cat_tp: Counter[str] = field(default_factory=Counter)
    rule_hits: Counter[str] = field(default_factory=Counter)
    rule_correct: Counter[str] = field(default_factory=Counter)
    rule_category: dict[str, str] = field(default_factory=dict)
    clean_flagged_by: Counter[str] = field(default_factory=Counter)  # clean lines flagged, by layer: rule, meaning, both
    errors: list[tuple[str, dict[str, Any], list[str]]] = field(default_factory=list)

    def add(self, gold: dict[str, Any], findings: Iterable[Finding]) -> None:
        """Count one labelled line against the findings raised for it."""
        speaker = gold.get("speaker", "agent")
        kind = WANT_KIND.get(speaker, "violation")
        labels = set(gold.get("labels") or [])
        relevant = [f for f in findings if f.kind == kind]
        found = {f.category for f in relevant}
        counts = self.speakers[speaker]
        if labels and found:
            counts.tp += 1
        elif labels:
            counts.fn += 1
            self.errors.append(("MISS", gold, sorted(found)))
        elif found:
            counts.fp += 1
            self.errors.append(("FALSE ALARM", gold, sorted(found)))
            layers = {f.source for f in relevant}
            self.clean_flagged_by[f"{speaker}:{'both' if len(layers) > 1 else layers.pop()}"] += 1
        else:
            counts.tn += 1
        for cat in labels:
            self.cat_gold[cat] += 1
            self.cat_tp[cat] += cat in found
        for cat in found:
            self.cat_pred[cat] += 1
        for f in relevant:
            self.rule_hits[f.rule_id] += 1
            self.rule_correct[f.rule_id] += f.category in labels
            self.rule_category[f.rule_id] = f.category

    def lines(self, title: str, show_errors: bool = False) -> list[str]:
        """The report as printable lines."""
        out = [f"== {title}"]
        for speaker in ("agent", "customer"):
            c = self.speakers.get(speaker)
            if not c or not c.lines:
                continue
            clean = c.fp + c.tn
            out.append(
                f"{speaker:8} lines={c.lines:4d} precision={c.precision:.3f} recall={c.recall:.3f} "
                f"f1={c.f1:.3f} false_alarm_rate={c.false_alarm_rate:.3f} ({c.fp}/{clean} clean lines flagged)"
            )
        out.append("category               gold  recall  predicted  precision")
        for cat in sorted(set(self.cat_gold) | set(self.cat_pred)):
            rec = self.cat_tp[cat] / self.cat_gold[cat] if self.cat_gold[cat] else float("nan")
            prec = self.cat_tp[cat] / self.cat_pred[cat] if self.cat_pred[cat] else float("nan")
            out.append(f"{cat:21} {self.cat_gold[cat]:5d}  {rec:6.3f}  {self.cat_pred[cat]:9d}  {prec:9.3f}")
        out.append("rule                                        hits  correct")
        for rule_id, hits in sorted(self.rule_hits.items(), key=lambda kv: (-kv[1], kv[0])):
            out.append(f"{rule_id:42} {hits:5d}  {self.rule_correct[rule_id]:7d}")
        if show_errors:
            for tag, gold, found in self.errors:
                out.append(f"{tag:11} [{gold.get('lang')}/{gold.get('speaker', 'agent')}] {gold.get('labels')} got={found} :: {gold['text']}")
        return out

    def markdown(self, title: str) -> list[str]:
        """The report as Markdown tables: lines, false alarms by layer, categories, rules."""
        out = [f"### {title}", "", "| speaker | lines | precision | recall | F1 | false alarms (clean lines) | by the rules / the meaning layer / both |",
               "|---|---|---|---|---|---|---|"]
        for speaker in ("agent", "customer"):
            c = self.speakers.get(speaker)
            if not c or not c.lines:
                continue
            by = "/".join(str(self.clean_flagged_by[f"{speaker}:{layer}"]) for layer in ("rule", "meaning", "both"))
            out.append(f"| {speaker} | {c.lines} | {c.precision:.3f} | {c.recall:.3f} | {c.f1:.3f} | {c.false_alarm_rate:.1%} ({c.fp}/{c.fp + c.tn}) | {by} |")
        out += ["", "| category | support | recall | predicted | precision |", "|---|---|---|---|---|"]
        for cat in sorted(set(self.cat_gold) | set(self.cat_pred)):
            rec = f"{self.cat_tp[cat] / self.cat_gold[cat]:.3f}" if self.cat_gold[cat] else "–"
            prec = f"{self.cat_tp[cat] / self.cat_pred[cat]:.3f}" if self.cat_pred[cat] else "–"
            out.append(f"| {cat} | {self.cat_gold[cat]} | {rec} | {self.cat_pred[cat]} | {prec} |")
        out += ["", "| rule | category | fired | precision | share of the category's lines it found |", "|---|---|---|---|---|"]
        for rule_id, hits in sorted(self.rule_hits.items(), key=lambda kv: (-kv[1], kv[0])):
            cat = self.rule_category.get(rule_id, "")
            share = f"{self.rule_correct[rule_id] / self.cat_gold[cat]:.3f}" if self.cat_gold[cat] else "–"
            out.append(f"| `{rule_id}` | {cat} | {hits} | {self.rule_correct[rule_id] / hits:.3f} | {share} |")
        return out + [""]

    def summary(self) -> dict[str, float]:
        """The headline figures: agent F1, agent false alarms, cue F1."""
        agent = self.speakers.get("agent", LineCounts())
        cue = self.speakers.get("customer", LineCounts())
        return {"agent_f1": agent.f1, "agent_false_alarm": agent.false_alarm_rate, "cue_f1": cue.f1}


@dataclass
class CallReport:
    """Call-level gold (transcripts whose header lists the ``expect``-ed call findings):
    per category, how many calls expected it, raised it, and both."""

    calls: int = 0
    gold: Counter[str] = field(default_factory=Counter)
    pred: Counter[str] = field(default_factory=Counter)
    tp: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def add(self, name: str, expected: Iterable[str], raised: Iterable[str]) -> None:
        """One call: the categories its gold expects and those the call rules raised."""
        want, got = set(expected), set(raised)
        self.calls += 1
        self.gold.update(want)
        self.pred.update(got)
        self.tp.update(want & got)
        self.errors += [f"{name}: missed {c}" for c in sorted(want - got)] + [f"{name}: false alarm {c}" for c in sorted(got - want)]

    def counts(self, category: str | None = None) -> LineCounts:
        """Confusion counts of one category, or summed over all (micro average)."""
        if category is None:
            tp, gold, pred = sum(self.tp.values()), sum(self.gold.values()), sum(self.pred.values())
        else:
            tp, gold, pred = self.tp[category], self.gold[category], self.pred[category]
        return LineCounts(tp=tp, fp=pred - tp, fn=gold - tp)

    def lines(self, title: str, show_errors: bool = False) -> list[str]:
        """The report as text: one row per category, then the micro average."""
        out = [f"== call-level rules, {title}: {self.calls} calls ==", f"{'category':<40} {'gold':>5} {'raised':>6} {'P':>6} {'R':>6} {'F1':>6}"]
        for category in sorted(set(self.gold) | set(self.pred)):
            c = self.counts(category)
            out.append(f"{category:<40} {self.gold[category]:>5} {self.pred[category]:>6} {c.precision:>6.3f} {c.recall:>6.3f} {c.f1:>6.3f}")
        total = self.counts()
        out.append(f"{'all (micro)':<40} {sum(self.gold.values()):>5} {sum(self.pred.values()):>6} {total.precision:>6.3f} {total.recall:>6.3f} {total.f1:>6.3f}")
        if show_errors:
            out += [f"  {e}" for e in self.errors]
        return out


def is_call_gold(path: str | Path) -> bool:
    """Whether a file is a call with call-level gold: its first line a header with ``expect``."""
    with open(path, "rb") as fh:
        first = fh.readline()
    try:
        head = json.loads(first)
    except ValueError:
        return False
    return isinstance(head, dict) and isinstance(head.get("call"), dict) and "expect" in head["call"]


def evaluate_call(path: str | Path, checker: Any = None, lang: str | None = None) -> tuple[str, set[str], set[str]]:
    """One call of call-level gold: ``(language, expected categories, raised categories)``.
    The header's ``case`` (inline) feeds the call and contact rules; only call-level findings
    (call and contact rules) count."""
    from assistant.archive.importer import prepare_import
    from assistant.errors import TranscriptError

    prepared = prepare_import(path, lang=lang, checker=checker)  # the header's inline `case` feeds the rules
    expected = prepared.meta.get("expect")
    if not isinstance(expected, list) or not all(isinstance(c, str) for c in expected):
        raise TranscriptError(f"{path}:1: `expect` is a list of categories")
    raised = {e.category for _, events in prepared.judged for e in events if isinstance(e, Finding) and e.extra.get("call_rule") and not e.case_update}
    raised |= {f.category for f in prepared.contact_findings(None)}  # was the call allowed then (no history: the gold call alone)
    return prepared.lang, set(expected), raised
