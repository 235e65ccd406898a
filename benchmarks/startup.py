"""Start-up time: cold (numba's kernel cache empty, as after an install) and warm.

    python benchmarks/startup.py [--runs 1] [--file SAMPLE] [--tablescribe CMD]

Each measurement is a fresh process:

* CLI: ``tablescribe convert SAMPLE -o out.xlsx`` from the start of the process to its
  end (the first result written);
* GUI (offscreen Qt): ``tablescribe gui SAMPLE`` as a person starts it: the time to the
  window shown, to the engine prepared ("Preparing the engine (first start)…" done;
  cold only) and to the first result (the sample converted, its table on screen).

Cold runs get an empty NUMBA_CACHE_DIR and an empty TABLESCRIBE_CACHE_DIR; warm runs
reuse the cache the cold run filled. ``--tablescribe`` times another installation
(e.g. a bundle: ``--tablescribe dist/tablescribe/tablescribe``) for the CLI rows. CPU
seconds (user + sys of the child) are printed beside the wall time, since a shared
machine's load average (printed) stretches wall times. Not a test: no assertions.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _gui_probe(sample: str) -> int:
    """Run in the child: the window as ``tablescribe gui SAMPLE`` opens it, with timestamps."""
    t0 = float(os.environ["STARTUP_T0"])
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication([sys.argv[0]])
    from app.gui.engine_warmup import warm_up_if_cold
    from app.gui.main_window import MainWindow
    from app.gui.settings import AppSettings

    settings = AppSettings(QSettings(os.path.join(os.environ["TABLESCRIBE_CACHE_DIR"], "s.ini"),
                                     QSettings.IniFormat))
    window = MainWindow(settings)
    window.resize(1280, 800)
    window.show()
    app.processEvents()
    print(f"shown {time.time() - t0:.2f}", flush=True)
    job = warm_up_if_cold(window)
    if job is not None:
        job.finished.connect(lambda *_: print(f"prepared {time.time() - t0:.2f}", flush=True))
    window.auto_convert = True

    def done() -> None:
        print(f"result {time.time() - t0:.2f}", flush=True)
        QTimer.singleShot(0, app.quit)

    window.conversionFinished.connect(done)
    window.conversionFailed.connect(lambda reason: (print("failed", reason), app.exit(1)))
    QTimer.singleShot(0, lambda: window.open_file(sample))
    status = app.exec()
    if job is not None:
        job.thread.join(timeout=120)
    window.wait_for_jobs()
    return status


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = {**env, "STARTUP_T0": repr(time.time())}
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tempfile.gettempdir(),
                          check=False)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--gui-probe":
        return _gui_probe(sys.argv[2])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=1, help="cold/warm pairs (default 1)")
    ap.add_argument("--file", default=str(ROOT / "resources" / "samples" / "invoice.png"))
    ap.add_argument("--tablescribe", help="the command to time for the CLI rows "
                                          "(default: this checkout, python -m app)")
    ap.add_argument("--no-gui", action="store_true", help="CLI rows only")
    args = ap.parse_args()
    cli = args.tablescribe.split() if args.tablescribe else [sys.executable, "-m", "app"]
    base_env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}; "
          f"{os.cpu_count()} CPUs; NUMBA_NUM_THREADS={os.environ.get('NUMBA_NUM_THREADS', 'all')}")
    print(f"{'run':<22}{'wall s':>8}{'cpu s':>8}   details")
    with tempfile.TemporaryDirectory(prefix="tablescribe-startup-") as tmp:
        out = os.path.join(tmp, "out.xlsx")
        for r in range(args.runs):
            for what in ("cli", "gui"):
                if what == "gui" and args.no_gui:
                    continue
                cache = os.path.join(tmp, f"{what}{r}")
                shutil.rmtree(cache, ignore_errors=True)
                os.makedirs(cache)
                env = {**base_env, "NUMBA_CACHE_DIR": os.path.join(cache, "numba"),
                       "TABLESCRIBE_CACHE_DIR": cache}
                for state in ("cold", "warm"):
                    if what == "cli":
                        cmd = cli + ["convert", args.file, "-o", out, "-q"]
                    else:
                        cmd = [sys.executable, str(Path(__file__).resolve()), "--gui-probe", args.file]
                    wall, cpu, stdout = _timed(cmd, env)
                    marks = [ln.split() for ln in stdout.splitlines()
                             if ln.split()[:1] in (["shown"], ["prepared"], ["result"])]
                    details = ("to the first result (process end)" if what == "cli"
                               else "  ".join(f"{k} {v} s" for k, v in marks))
                    print(f"{what + ' ' + state:<22}{wall:8.2f}{cpu:8.2f}   {details}", flush=True)
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
