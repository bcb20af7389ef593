"""Checker speed: warm per-utterance latency and batch throughput, with a naive baseline.

Usage: python bench/check_bench.py [--rounds 5] [FILE.jsonl ...]
Defaults to the dev-set lines in ../shared/devset (only text/speaker/lang are read).

Prints:
- rule layer (runs on every partial hypothesis): p50/p99 ms per utterance, utterances/s;
- final check (rules + meaning layer): p50/p99 ms, and the meaning layer alone;
- call-level rules (state kept across a call): p50/p99 ms per utterance that they add on top
  of the final check, over the lines cut into calls of 20 utterances per language;
- naive baseline: one compiled regex alternation of every phrase/regex pattern of the
  lexicons, searched on the raw text (no normalisation, context or speaker scope), with
  its throughput and its agent-line F1, to show what the engine's care costs and buys.
Ends with one `RESULT key=value ...` line.
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

from assistant import Checker
from assistant.evaluate import LineCounts
from assistant.events import Utterance
from assistant.rules.call_rules import CallRules
from assistant.rules.loader import load_lexicon

HERE = Path(__file__).resolve().parent
DEFAULT_FILES = [HERE.parent.parent / "shared" / "devset" / f"{lang}.jsonl" for lang in ("zh", "en")]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def load(files: list[Path]) -> list[dict]:
    rows = []
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                rows.append(row)
    return rows


def baseline_pattern(lang: str) -> re.Pattern[str]:
    parts = []
    for rule in load_lexicon(lang).rules:
        if rule.kind != "violation":
            continue
        parts += [re.escape(p) for p in rule.patterns.phrases]
        parts += [f"(?:{r})" for r in rule.patterns.regex]
    return re.compile("|".join(parts), re.IGNORECASE)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    files = args.files or [p for p in DEFAULT_FILES if p.exists()]
    if not files:
        sys.exit("no input: pass JSONL files with `text` (and optional speaker/lang)")
    rows = load(files)
    checker = Checker()
    checker.warm_up(("zh", "en"))
    items = [(r["text"], r.get("speaker", "agent"), checker.resolve_lang(r["text"], r.get("lang"))) for r in rows]
    for text, speaker, lang in items:  # warm every code path once
        checker.check(text, speaker, lang=lang)

    rule_ms, final_ms, meaning_ms = [], [], []
    for _ in range(args.rounds):
        for text, speaker, lang in items:
            t0 = time.perf_counter()
            checker.check(text, speaker, lang=lang, final=False)
            t1 = time.perf_counter()
            checker.check(text, speaker, lang=lang, final=True)
            t2 = time.perf_counter()
            layer = checker.meaning(lang)
            assert layer is not None
            layer.scores([checker.engine(lang).normalize(text).text], speaker)
            t3 = time.perf_counter()
            rule_ms.append((t1 - t0) * 1000)
            final_ms.append((t2 - t1) * 1000)
            meaning_ms.append((t3 - t2) * 1000)

    judged = {lang: [(text, speaker, checker.check(text, speaker, lang=lang)) for text, speaker, l in items if l == lang] for lang in ("zh", "en")}
    call_ms = []
    for _ in range(args.rounds):
        for lang, lines in judged.items():
            for start in range(0, len(lines), 20):
                rules = CallRules(lang)
                for seq, (text, speaker, found) in enumerate(lines[start:start + 20], 1):
                    utt = Utterance("bench", seq, "customer" if speaker == "customer" else "agent", float(seq), seq + 1.0, text)
                    t0 = time.perf_counter()
                    rules.turn(utt, found)
                    call_ms.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                rules.finish()
                call_ms.append((time.perf_counter() - t0) * 1000)

    def throughput(fn) -> float:
        rates = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            for text, speaker, lang in items:
                fn(text, speaker, lang)
            rates.append(len(items) / (time.perf_counter() - t0))
        return statistics.median(rates)

    rules_ups = throughput(lambda t, s, l: checker.check(t, s, lang=l, final=False))
    full_ups = throughput(lambda t, s, l: checker.check(t, s, lang=l, final=True))
    patterns = {lang: baseline_pattern(lang) for lang in ("zh", "en")}
    base_ups = throughput(lambda t, s, l: patterns[l].search(t))

    ours, base = LineCounts(), LineCounts()
    for row, (text, speaker, lang) in zip(rows, items):
        if speaker != "agent" or "labels" not in row:
            continue
        gold = bool(row["labels"])
        for counts, hit in (
            (ours, any(f.kind == "violation" for f in checker.check(text, speaker, lang=lang))),
            (base, bool(patterns[lang].search(text))),
        ):
            counts.tp += gold and hit
            counts.fn += gold and not hit
            counts.fp += hit and not gold
            counts.tn += not hit and not gold

    print(f"utterances: {len(items)} from {', '.join(str(f) for f in files)}; rounds: {args.rounds}")
    print(f"rule layer (every partial):  p50={percentile(rule_ms, 50):.3f} ms  p99={percentile(rule_ms, 99):.3f} ms  throughput={rules_ups:,.0f} utt/s")
    print(f"final check (rules+meaning): p50={percentile(final_ms, 50):.3f} ms  p99={percentile(final_ms, 99):.3f} ms  throughput={full_ups:,.0f} utt/s")
    print(f"meaning layer alone:         p50={percentile(meaning_ms, 50):.3f} ms  p99={percentile(meaning_ms, 99):.3f} ms")
    print(f"call-level rules (added):    p50={percentile(call_ms, 50):.3f} ms  p99={percentile(call_ms, 99):.3f} ms  (budget: p99 ≤ 1 ms)")
    print(f"naive regex baseline:        throughput={base_ups:,.0f} utt/s")
    if ours.lines:
        print(f"agent-line F1: checker={ours.f1:.3f} (false alarms {ours.false_alarm_rate:.3f})  baseline={base.f1:.3f} (false alarms {base.false_alarm_rate:.3f})")
    print(
        "RESULT "
        f"rule_p50_ms={percentile(rule_ms, 50):.3f} rule_p99_ms={percentile(rule_ms, 99):.3f} "
        f"rules_utt_per_s={rules_ups:.0f} final_p50_ms={percentile(final_ms, 50):.3f} final_p99_ms={percentile(final_ms, 99):.3f} "
        f"meaning_p50_ms={percentile(meaning_ms, 50):.3f} meaning_p99_ms={percentile(meaning_ms, 99):.3f} "
        f"call_rules_p50_ms={percentile(call_ms, 50):.3f} call_rules_p99_ms={percentile(call_ms, 99):.3f} "
        f"full_utt_per_s={full_ups:.0f} baseline_utt_per_s={base_ups:.0f} "
        f"agent_f1={ours.f1:.3f} baseline_agent_f1={base.f1:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
