"""Archive benchmark: durable append rate and search latency on a large archive, on
SQLite (the default) or PostgreSQL (``--backend postgresql``: a throwaway server from
Debian's package, fsync on, on a Unix socket).

  * durable append rate: utterances/s through the production writer (SQLite: WAL,
    synchronous=FULL; one committed transaction per utterance, hash chain included);
  * the same with --writers processes appending to their own calls at once (they queue on
    the archive's write lock);
  * search latency: Chinese (one and two characters, phrases) and English queries on an
    archive of --utterances utterances (default 100,000), p50/p95 over the query set;
  * verify throughput (records/s).

    python bench/archive_bench.py [--utterances 100000] [--durable 500] [--writers 4] [--backend postgresql]

The large archive is filled through the same writer with synchronous=OFF (PostgreSQL:
synchronous_commit off; only the fill is fast and unsafe; the durable rates are measured
separately with production settings). Ends with a ``RESULT key=value ...`` line.
"""
from __future__ import annotations

import argparse
import multiprocessing
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

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


LINE = "您好，我是客服，请问您这个月的还款什么时候方便处理？"


def append_many(target: str, call_id: str, n: int, start: "multiprocessing.synchronize.Event") -> float:
    """In a writer process: open the archive, wait for the others, append ``n`` utterances
    durably; returns the seconds it took."""
    archive = Archive(target)
    archive.start_call(call_id)
    start.wait()
    began = time.perf_counter()
    for k in range(1, n + 1):
        archive.add_utterance(call_id, Utterance(call_id, k, "agent", k, k + 1, LINE))
    took = time.perf_counter() - began
    archive.seal(call_id)
    archive.close()
    return took


def concurrent_rate(target: str, writers: int, n: int) -> float:
    """Utterances/s of ``writers`` processes appending ``n`` each to their own calls at once."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        start = manager.Event()
        with ctx.Pool(writers) as pool:
            pending = [pool.apply_async(append_many, (target, f"w{k}", n, start)) for k in range(writers)]
            time.sleep(3)  # every writer has opened the archive
            began = time.perf_counter()
            start.set()
            for p in pending:
                p.get(timeout=600)
            return writers * n / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--utterances", type=int, default=100_000)
    parser.add_argument("--durable", type=int, default=500, help="utterances appended with production durability")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--writers", type=int, default=4, help="processes appending at once for the concurrent rate")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="archive-bench-"))
    cluster = None
    if args.backend == "postgresql":
        from tests.postgres import Cluster

        cluster = Cluster(durable=True)

    def new_target(name: str) -> str:
        return cluster.new_database() if cluster is not None else str(tmp / f"{name}.db")

    try:
        run(args, new_target, tmp)
    finally:
        if cluster is not None:
            cluster.stop()


def run(args: argparse.Namespace, new_target: "Callable[[str], str]", tmp: Path) -> None:
    durable = Archive(new_target("durable"))
    durable.start_call("d1")
    began = time.perf_counter()
    for k in range(1, args.durable + 1):
        durable.add_utterance("d1", Utterance("d1", k, "agent", k, k + 1, LINE))
    rate = args.durable / (time.perf_counter() - began)
    durable.seal("d1")
    print(f"durable append ({args.backend}, one commit each): {rate:,.0f} utterances/s over {args.durable}")
    together = concurrent_rate(new_target("together"), args.writers, args.durable)
    print(f"durable append, {args.writers} writer processes at once: {together:,.0f} utterances/s in all")

    big = Archive(new_target("big"))
    if args.backend == "sqlite":
        big.conn.execute("PRAGMA synchronous=OFF")
    else:
        big.conn.execute("SET synchronous_commit = off")
    began = time.perf_counter()
    fill(big, args.utterances)
    if args.backend == "sqlite":
        size = (tmp / "big.db").stat().st_size / 1e6
    else:
        big.conn.execute("ANALYZE")  # what autovacuum does within a minute of such a fill: the planner's statistics
        size = big.conn.execute("SELECT pg_database_size(current_database())").fetchone()[0] / 1e6
    print(f"filled {args.utterances:,} utterances in {time.perf_counter() - began:.0f} s; database {size:.0f} MB")

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
        f"RESULT backend={args.backend} durable_utt_per_s={rate:.0f} concurrent_utt_per_s={together:.0f} writers={args.writers} "
        f"db_mb={size:.0f} search_zh_p50_ms={figures['zh'][0]:.1f} search_zh_p95_ms={figures['zh'][1]:.1f} "
        f"search_en_p50_ms={figures['en'][0]:.1f} search_en_p95_ms={figures['en'][1]:.1f} filtered_ms={filt_ms:.1f} "
        f"verify_records_per_s={vrate:.0f} utterances={args.utterances}"
    )


if __name__ == "__main__":
    main()
