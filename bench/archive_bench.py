"""Archive benchmark: durable append rate and search latency on a large archive.

  * durable append rate: utterances/s through the production writer (WAL,
    synchronous=FULL, one committed transaction per utterance, hash chain included);
  * search latency: Chinese (one and two characters, phrases) and English queries on an
    archive of --utterances utterances (default 100,000), p50/p95 over the query set;
  * verify throughput (records/s).

    python bench/archive_bench.py [--utterances 100000] [--durable 500]

The large archive is filled through the same writer with synchronous=OFF (only the
fill is fast and unsafe; the durable rate is measured separately with production
settings). Ends with a ``RESULT key=value ...`` line.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.archive import Archive, verify  # noqa: E402
from assistant.archive.search import search  # noqa: E402
from assistant.asr.scripted import load_transcript  # noqa: E402
from assistant.events import Utterance  # noqa: E402

ZH_QUERIES = ["坐牢", "还钱", "钱", "警察", "分期", "裁员", "投诉", "警察上门", "工资", "律师"]
EN_QUERIES = ["police", "payment", "hospital", "deadbeat", "writing", "laid off", "boss", "installment", "lawyer", "paid"]
EXTRA = {
    "zh": ["不还钱就等着坐牢", "我想申请分期还款", "你们再打我就去投诉", "这事我已经交给律师了", "我现在真的没钱"],
    "en": ["I already paid that in full", "please talk to my lawyer", "I lost my job last month", "can we set up an installment plan", "stop calling me at work"],
}


def corpus() -> list[tuple[str, str, str]]:
    lines = []
    for path in sorted((ROOT / "recordings_fixtures").glob("*/*.jsonl")):
        meta, rows = load_transcript(path)
        lines += [(meta["lang"], r["speaker"], r["text"]) for r in rows]
    for lang, texts in EXTRA.items():
        lines += [(lang, "customer", t) for t in texts]
    return lines


def fill(archive: Archive, n: int, per_call: int = 40) -> None:
    rng = random.Random(7)
    lines = corpus()
    done = 0
    call = 0
    began = time.perf_counter()
    while done < n:
        cid = f"call{call:06d}"
        lang = "zh" if call % 3 else "en"
        pool = [line for line in lines if line[0] == lang]
        archive.start_call(cid, agent_id=f"agent{call % 25:02d}", lang=lang,
                           started_at=f"2026-{1 + call % 11:02d}-{1 + call % 27:02d}T10:00:00+08:00")
        for seq in range(1, per_call + 1):
            _, speaker, text = rng.choice(pool)
            archive.add_utterance(cid, Utterance(cid, seq, speaker, seq * 3.0, seq * 3.0 + 2.5, text))  # type: ignore[arg-type]
            done += 1
            if done >= n:
                break
        archive.seal(cid)
        call += 1
        if call % 250 == 0:
            rate = done / (time.perf_counter() - began)
            print(f"  filled {done:,} utterances ({rate:,.0f}/s)", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--utterances", type=int, default=100_000)
    parser.add_argument("--durable", type=int, default=500, help="utterances appended with production durability")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="archive-bench-"))

    durable = Archive(tmp / "durable.db")
    durable.start_call("d1")
    began = time.perf_counter()
    for k in range(1, args.durable + 1):
        durable.add_utterance("d1", Utterance("d1", k, "agent", k, k + 1, "您好，我是客服，请问您这个月的还款什么时候方便处理？"))
    rate = args.durable / (time.perf_counter() - began)
    durable.seal("d1")
    print(f"durable append (WAL, synchronous=FULL, one commit each): {rate:,.0f} utterances/s over {args.durable}")

    big = Archive(tmp / "big.db")
    big.conn.execute("PRAGMA synchronous=OFF")
    began = time.perf_counter()
    fill(big, args.utterances)
    print(f"filled {args.utterances:,} utterances in {time.perf_counter() - began:.0f} s; file {(tmp / 'big.db').stat().st_size / 1e6:.0f} MB")

    figures = {}
    for lang, queries in (("zh", ZH_QUERIES), ("en", EN_QUERIES)):
        times, counts = [], []
        for _ in range(args.rounds):
            for q in queries:
                t = time.perf_counter()
                hits = search(big, q, limit=50)
                times.append((time.perf_counter() - t) * 1000)
                counts.append(len(hits))
        times.sort()
        p50, p95 = statistics.median(times), times[int(len(times) * 0.95)]
        figures[lang] = (p50, p95)
        print(f"search {lang}: p50 {p50:.1f} ms, p95 {p95:.1f} ms (first 50 hits; {len(queries)} queries x {args.rounds})")
    t = time.perf_counter()
    filt = [search(big, q, category=None, agent="agent03", since="2026-03-01", until="2026-06-30", limit=50) for q in ZH_QUERIES]
    filt_ms = (time.perf_counter() - t) * 1000 / len(ZH_QUERIES)
    print(f"search with agent + date filters: {filt_ms:.1f} ms per query ({sum(map(len, filt))} hits)")

    t = time.perf_counter()
    report = verify(big)
    vrate = report.records / (time.perf_counter() - t)
    print(f"verify: {report.records:,} records, {'ok' if report.ok else 'PROBLEMS'}, {vrate:,.0f} records/s")
    print(
        f"RESULT durable_utt_per_s={rate:.0f} search_zh_p50_ms={figures['zh'][0]:.1f} search_zh_p95_ms={figures['zh'][1]:.1f} "
        f"search_en_p50_ms={figures['en'][0]:.1f} search_en_p95_ms={figures['en'][1]:.1f} filtered_ms={filt_ms:.1f} "
        f"verify_records_per_s={vrate:.0f} utterances={args.utterances}"
    )


if __name__ == "__main__":
    main()
