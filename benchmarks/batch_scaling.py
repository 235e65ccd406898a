"""Pages per second of `tablescribe batch` on the local process pool and on Dask.

    python3 -m benchmarks.batch_scaling [--pages 48] [--model DIR | --recognizer null]

Converts the same folder (copies of the rendered sample scans of app.samples) with:

* serial: in this process (the baseline);
* the local pool (app.executors.ProcessExecutor) with 1 and 2 worker processes;
* Dask (app.cluster.DaskExecutor on a LocalCluster of processes) with 1 and 2 workers:
  the first batch on a fresh cluster ("cold": the workers load and warm the model)
  and the same batch again ("warm": the model is already loaded).

For each it prints the wall time, pages/second, the ratio to serial and to the local
pool with as many workers, and the overhead per task: (wall x workers - time spent
inside the tasks) / tasks, i.e. what each file costs beyond its own conversion
(process start, model load, scheduling, transfers, the client's journal and report).
It also prints the round trip of an empty Dask task.

The recognizer is the real ocr.Recognizer: --model DIR, else the embedded model when
present, else a small randomly initialised TrOCR written with transformers (its text is
noise but every step of the real path runs). --recognizer null reads nothing
(benchmarks.stand_ins), to measure everything but recognition. Timings on a shared machine are noisy: the load
average is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from app import cluster, recognizers
from app.batch import run_batch
from app.executors import ProcessExecutor, SerialExecutor
from benchmarks import stand_ins


def make_folder(folder: Path, pages: int) -> Path:
    from app.samples import write_samples

    samples = write_samples(folder / "_samples")
    pngs = sorted(p for p in samples if p.suffix == ".png")
    src = folder / "scans"
    src.mkdir(parents=True)
    for i in range(pages):
        shutil.copyfile(pngs[i % len(pngs)], src / f"page{i:04d}.png")
    return src


def random_model(folder: Path) -> Path:
    """A small random TrOCR model folder (needs torch + transformers)."""
    from training.charset_tokenizer import SPECIALS, build_char_tokenizer
    from training.reference_models import VOCAB, build_reference, save_reference

    model = save_reference(build_reference("vit_nonsquare_proj"), folder / "model")
    chars = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRST"[: VOCAB - len(SPECIALS)]
    build_char_tokenizer(chars).save(str(model / "tokenizer.json"))
    return model


def noop(x: int) -> int:
    return x


def timed(src: Path, out: Path, executor, workers: int, **kwargs) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    report = run_batch(src, out, executor=executor, **kwargs)
    wall = time.perf_counter() - start
    failed = [r for r in report.rows if r.status != "ok"]
    if failed:
        raise SystemExit(f"{len(failed)} file(s) failed, e.g. {failed[0].file}: {failed[0].error}")
    inside = sum(r.seconds for r in report.rows)
    n = len(report.rows)
    return {"wall": wall, "pps": n / wall, "overhead_ms": 1000 * (wall * workers - inside) / n,
            "task_s": inside / n}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=48)
    parser.add_argument("--model", help="model folder (default: the embedded model, else a random one)")
    parser.add_argument("--recognizer", choices=("model", "null"), default="model")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="tablescribe-bench-"))
    try:
        src = make_folder(work, args.pages)
        kwargs: dict = {"device": "cpu"}
        if args.recognizer == "null":
            kwargs["recognizer_factory"] = stand_ins.null_factory
            what = "none (NullRecognizer: every crop read as empty)"
        else:
            from ocr.recognizer import DEFAULT_MODEL_DIR
            if args.model:
                kwargs["model"] = args.model
            elif not (DEFAULT_MODEL_DIR / "config.json").exists():
                kwargs["model"] = str(random_model(work))
            what = kwargs.get("model") or "embedded model"
        print(f"{args.pages} pages (copies of the app.samples scans), recognizer: {what}")
        print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f}")

        rows: list[tuple[str, int, dict]] = []
        recognizers.cached_recognizer(kwargs.get("model"), "cpu", kwargs.get("recognizer_factory"))
        rows.append(("serial (in process, model loaded)", 1, timed(src, work / "out", SerialExecutor(), 1, **kwargs)))
        for n in args.workers:
            rows.append((f"local pool, {n} worker(s)", n, timed(src, work / "out", ProcessExecutor(n), n, **kwargs)))
        noops = {}
        for n in args.workers:
            start = time.perf_counter()
            with cluster.local_cluster(n, dashboard=":0") as client:
                startup = time.perf_counter() - start
                executor = cluster.DaskExecutor(client)
                cold = timed(src, work / "out", executor, n, **kwargs)
                warm = timed(src, work / "out", executor, n, **kwargs)
                rows.append((f"dask, {n} worker(s), cold (startup {startup:.1f} s not counted)", n, cold))
                rows.append((f"dask, {n} worker(s), warm", n, warm))
                from distributed import as_completed
                start = time.perf_counter()
                for f in as_completed(client.map(noop, range(400), pure=False)):
                    f.release()
                noops[n] = 1000 * (time.perf_counter() - start) / 400

        serial = rows[0][2]["pps"]
        pool = {n: r["pps"] for label, n, r in rows if label.startswith("local pool")}
        print()
        print(f"| {'executor':<52} | wall s | pages/s | vs serial | vs pool same workers "
              "| s inside a task | overhead ms/task |")
        print(f"|{'-' * 54}|-------:|--------:|----------:|---------------------:|----------------:|"
              "----------------:|")
        for label, n, r in rows:
            vs_pool = f"{r['pps'] / pool[n]:.2f}x" if label.startswith("dask") and n in pool else "-"
            print(f"| {label:<52} | {r['wall']:6.1f} | {r['pps']:7.2f} | {r['pps'] / serial:8.2f}x | "
                  f"{vs_pool:>20} | {r['task_s']:15.3f} | {r['overhead_ms']:16.0f} |")
        print()
        for n, ms in noops.items():
            print(f"empty Dask task round trip, {n} worker(s): {ms:.1f} ms/task")
        print(f"mean time inside a task (serial): {rows[0][2]['task_s']:.3f} s")
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
