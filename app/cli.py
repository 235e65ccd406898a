"""The ``tablescribe`` command: convert, batch, model, gui.

    tablescribe convert scan.png -o scan.xlsx
    tablescribe convert a.png b.pdf -o out/            (one file per input)
    tablescribe batch scans/ out/ --recursive --workers 2 --resume
    tablescribe batch s3://archive/scans s3://archive/xlsx --scheduler tcp://head:8786
    tablescribe model download microsoft/trocr-small-printed
    tablescribe model tune CORRECTIONS_DIR -o MODEL_DIR [--base MODEL] [--minutes N]
    tablescribe gui [scan.png]

Exit status: 0 when everything was converted, 1 when something failed (each failure
is one line on stderr naming the file and the problem), 2 for a usage error, 3 when
nothing failed but an input held no table, 4 when ``model tune`` wrote a model that is
no better (marked not adopted), 130 when interrupted. ``--verbose`` (or
TABLESCRIBE_DEBUG=1; ``--debug`` is the old name) adds the traceback. Every failure is
also written, with its traceback, to the log file in the user's log folder (app.logs).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from app.errors import describe_error
from app.inputs import scan_types_text
from table.export import FORMATS, ExportError, ExportOptions, format_for_path, write_tables

# The pipeline (OpenCV, the model) is imported by the commands that need it, so
# --help, --version and `gui` start at once.

PROG = "tablescribe"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NO_TABLE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_NOT_ADOPTED = 4
log = logging.getLogger(__name__)
# The command prints its own one-line message: the record is for the log file only.
_FILE_ONLY = {"console": False}


class _UsageError(Exception):
    pass


def _version() -> str:
    from app.about import version
    return version()


def _error(message: str) -> None:
    print(f"{PROG}: {' '.join(str(message).split())}", file=sys.stderr)


def _bar(quiet: bool, **kwargs):
    from tqdm import tqdm
    # disable=None: a bar on a terminal, nothing in logs and pipes.
    return tqdm(disable=True if quiet else None, file=sys.stderr, dynamic_ncols=True, **kwargs)


def _confidence(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _export_options(args: argparse.Namespace) -> ExportOptions:
    return ExportOptions(highlight_below=args.highlight_below, comments=True, csv_bom=args.bom,
                         csv_raw=args.csv_raw)


# --------------------------------------------------------------------------- convert


def _plan_convert(inputs: list[Path], out: str, fmt: str | None) -> tuple[str, list[tuple[list[Path], Path]]]:
    """(format, [(inputs, output)]): one output per input when OUT is a folder,
    else every input's tables into OUT."""
    out_path = Path(out)
    is_dir = out.endswith(("/", os.sep)) or out_path.is_dir() or (
        len(inputs) > 1 and out_path.suffix.lower().lstrip(".") not in FORMATS)
    if is_dir:
        fmt = fmt or "xlsx"
        targets = [out_path / f"{p.stem}.{fmt}" for p in inputs]
        clashes = {t for t in targets if targets.count(t) > 1}
        plan = []
        for src, target in zip(inputs, targets):
            if target in clashes:
                target = target.with_name(f"{src.stem}_{src.suffix.lstrip('.').lower() or 'noext'}.{fmt}")
            plan.append(([src], target))
        return fmt, plan
    suffix_fmt = out_path.suffix.lower().lstrip(".")
    if fmt and suffix_fmt in FORMATS and suffix_fmt != fmt:
        raise _UsageError(f"{out}: the extension says {suffix_fmt} but --format says {fmt}")
    return fmt or format_for_path(out_path), [(inputs, out_path)]


def cmd_convert(args: argparse.Namespace) -> int:
    from app import pipeline
    from app.recognizers import open_recognizer

    inputs = [Path(p) for p in args.inputs]
    missing = [p for p in inputs if not p.exists()]
    for p in missing:
        _error(f"{p}: file not found")
    if missing:
        return EXIT_FAILED
    fmt, plan = _plan_convert(inputs, args.output, args.format)
    from app import warmup
    cold = warmup.is_cold()
    if cold and not args.quiet:
        _error("preparing the engine (first start after installing: its kernels are compiled "
               "once, which takes a few seconds to a minute)…")
    recognizer = open_recognizer(args.model, args.device)
    engine = pipeline.Pipeline(recognizer, dpi=args.dpi, beams=args.beams, text_layer=args.text_layer)
    options = _export_options(args)
    failed = no_table = False
    for sources, target in plan:
        results, names, target_failed = [], [], False
        for src in sources:
            with _bar(args.quiet, desc=src.name, unit="cell", leave=False) as bar:
                def show(done: int, total: int, bar=bar) -> None:
                    bar.total = total
                    bar.n = done
                    bar.refresh()
                try:
                    pages = engine.convert_file(src, progress=show)
                except Exception as exc:
                    _error(describe_error(exc))
                    log.exception("convert %s failed", src, extra=_FILE_ONLY)
                    failed = target_failed = True
                    continue
            missing = pipeline.no_table_message(src, pages)
            if missing:  # a page without a table is not a conversion: say which
                _error(missing)
                no_table = no_table or not any(r.tables for r in pages)
            pages = [r for r in pages if r.tables]
            results.extend(pages)
            prefix = f"{src.stem} " if len(sources) > 1 else ""
            names.extend(_sheet_names(pages, prefix))
        if target_failed:
            if len(sources) > 1:
                _error(f"{target}: not written because an input failed")
            continue
        tables = [t for r in results for t in r.tables]
        if not tables:  # nothing to write; the reason is on stderr already
            continue
        try:
            written = write_tables(tables, target, fmt, options, sheet_names=names, inputs=inputs)
        except ExportError as exc:
            _error(str(exc))
            failed = True
            continue
        if cold:
            warmup.mark_warm()
            cold = False
        summary = pipeline.summarize(results)
        how = ""
        if summary.text_layer_pages:
            pages = ", ".join(map(str, summary.text_layer_pages))
            how = f"; text from the PDF on page{'s' if len(summary.text_layer_pages) > 1 else ''} {pages}"
        print(f"wrote {', '.join(str(p) for p in written)} ({summary.tables} table(s), "
              f"{summary.cells} cells, mean confidence {_confidence(summary.mean_confidence)}{how})")
    return EXIT_FAILED if failed else EXIT_NO_TABLE if no_table else EXIT_OK


def _sheet_names(pages, prefix: str) -> list[str]:
    from table.export.xlsx import default_sheet_names
    tables = [t for r in pages for t in r.tables]
    return [prefix + name for name in default_sheet_names(tables)] if tables else []


# --------------------------------------------------------------------------- batch


@contextlib.contextmanager
def _batch_executor(args: argparse.Namespace):
    """None for the local process pool, else a DaskExecutor on the cluster at
    --scheduler, or on a LocalCluster of --workers processes started for this batch."""
    if args.executor != "dask" and not args.scheduler:
        yield None
        return
    from app import cluster  # imports Dask, an optional extra

    if args.scheduler:
        opened = cluster.connect(args.scheduler)
    else:
        opened = cluster.local_cluster(args.workers if args.workers_given else None)
    with opened as client:
        executor = cluster.DaskExecutor(client, file_timeout=args.file_timeout)
        workers = len(client.nthreads())
        where = args.scheduler or f"local cluster at {client.scheduler.address}"
        note = f"Dask {where}: {workers} worker(s)" + ("" if workers else ", waiting for workers to join")
        dashboard = executor.dashboard
        if dashboard is None:
            note += "; no dashboard"
        else:
            note += f"; dashboard: {dashboard}"
            if not args.scheduler and importlib.util.find_spec("bokeh") is None:
                note += " (pip install 'bokeh>=3.1' to see it)"
        print(note, file=sys.stderr, flush=True)
        yield executor


def cmd_batch(args: argparse.Namespace) -> int:
    from app import locations
    from app.batch import run_batch
    from app.report import REPORT_CSV

    if args.scheduler and args.workers_given:
        raise _UsageError("--workers starts local processes; with --scheduler the cluster's "
                          "workers do the work (start more of them to go faster)")
    if not locations.is_dir(args.in_dir):
        _error(f"{args.in_dir}: no such folder")
        return EXIT_FAILED
    files_bar = _bar(args.quiet, desc="files", unit="file")
    cells_bar = _bar(args.quiet, desc="cells", unit="cell", leave=False)

    def file_done(row, done: int, total: int) -> None:
        files_bar.total = total
        files_bar.update(done - files_bar.n)
        if row.status in ("failed", "timeout"):
            files_bar.write(f"{row.status}: {row.file}: {row.error}", file=sys.stderr)
            log.warning("batch: %s failed: %s", row.file, row.error, extra=_FILE_ONLY)
        elif row.status == "no_table" or row.error:
            files_bar.write(f"{row.error}", file=sys.stderr)
        if not in_process and row.status == "ok":
            cells_bar.update(row.cells)

    def cells_done(done: int, total: int) -> None:
        cells_bar.total = total
        cells_bar.n = done
        cells_bar.refresh()

    in_process = (args.workers <= 1 and args.executor == "local" and not args.scheduler
                  and not args.file_timeout)
    try:
        with _batch_executor(args) as executor:
            report = run_batch(
                args.in_dir, args.out_dir, fmt=args.format, recursive=args.recursive,
                workers=args.workers, resume=args.resume, device=args.device, model=args.model,
                executor=executor, progress=file_done, cell_progress=cells_done, dpi=args.dpi,
                beams=args.beams, options=_export_options(args), text_layer=args.text_layer,
                file_timeout=args.file_timeout)
    except KeyboardInterrupt:
        files_bar.close()
        cells_bar.close()
        _error(f"interrupted; run again with --resume to continue where this run stopped "
               f"(report so far in {locations.join(locations.normalize(args.out_dir), REPORT_CSV)})")
        return EXIT_INTERRUPTED
    finally:
        files_bar.close()
        cells_bar.close()
    n_ok, n_skip, n_fail = len(report.converted), len(report.skipped), len(report.failed)
    n_empty = len(report.no_table)
    n_late = len(report.timed_out)
    parts = [f"{n_ok} converted"]
    if n_skip:
        parts.append(f"{n_skip} skipped (done earlier)")
    if n_empty:
        parts.append(f"{n_empty} without a table")
    parts.append(f"{n_fail} failed")
    if n_late:
        parts.append(f"{n_late} timed out")
    print(f"{len(report.rows)} file(s): {', '.join(parts)}; report: {report.report_csv}")
    if not report.rows:
        _error(f"{args.in_dir}: no scans found ({scan_types_text()})"
               + ("" if args.recursive else "; use --recursive for subfolders"))
        return EXIT_FAILED
    return EXIT_FAILED if n_fail or n_late else EXIT_NO_TABLE if n_empty else EXIT_OK


# --------------------------------------------------------------------------- model / gui


def cmd_model_download(args: argparse.Namespace) -> int:
    from ocr.hub import download_model
    path = download_model(args.model_id, revision=args.revision)
    print(path)
    return EXIT_OK


def cmd_model_tune(args: argparse.Namespace) -> int:
    from app.tuning import tune_model

    with _bar(args.quiet, total=100, unit="%", desc="tuning") as bar:
        def progress(fraction: float, text: str) -> None:
            bar.n = round(100 * fraction)
            bar.set_postfix_str(text, refresh=True)

        report = tune_model(args.corrections, args.output, base=args.base, minutes=args.minutes,
                            device=args.device, progress=progress, max_steps=args.max_steps,
                            trainable=args.train)
    for line in report.skipped:
        _error(f"skipped {line}")
    b, a = report.before, report.after
    if not a:
        _error(report.reason)
        return EXIT_FAILED
    print(f"{report.out}: {report.steps} steps on {report.corrections_used} corrections "
          f"({len(report.skipped)} skipped); kept-apart corrections "
          f"{b['corrections']['exact']:.1%} -> {a['corrections']['exact']:.1%} exact, "
          f"other text {b['general']['exact']:.1%} -> {a['general']['exact']:.1%}")
    if not report.adopted:
        _error(f"{report.out}: not adopted: {report.reason}")
        return EXIT_NOT_ADOPTED
    return EXIT_OK


def cmd_gui(args: argparse.Namespace) -> int:
    # Every argument, --help included, is the window's own (app.gui.main.build_parser).
    from app.gui.main import main as gui_main
    argv = list(args.gui_args)
    if args.verbose and "--verbose" not in argv:
        argv.insert(0, "--verbose")
    return int(gui_main(argv) or 0)


def cmd_desktop(args: argparse.Namespace) -> int:
    from app import desktop
    paths = desktop.install() if args.action == "install" else desktop.uninstall()
    for path in paths:
        print(path)
    return EXIT_OK


# --------------------------------------------------------------------------- parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError("must be 0 (no limit) or more seconds")
    return value


DEFAULT_FILE_TIMEOUT = 300.0


def _default_file_timeout() -> float:
    text = os.environ.get("TABLESCRIBE_FILE_TIMEOUT")
    try:
        return _seconds(text) if text else DEFAULT_FILE_TIMEOUT
    except (ValueError, argparse.ArgumentTypeError):
        raise _UsageError(f"TABLESCRIBE_FILE_TIMEOUT={text!r}: expected seconds (0: no limit)") from None


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _recognition_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="model folder or downloaded Hugging Face id (default: the embedded model)")
    p.add_argument("--device", help="cpu, cuda or cuda:N (default: CUDA when present)")
    p.add_argument("--dpi", type=float, default=300, help="resolution PDF pages are rendered at (default 300)")
    p.add_argument("--beams", type=_positive_int, default=1, help="beam search width (default 1: greedy)")
    p.add_argument("--text-layer", choices=("auto", "always", "never"), default="auto",
                   help="PDF pages: take tables and text from the PDF's own text where it is real "
                        "(auto, the default; scans and OCR layers are read from the pixels), "
                        "wherever a page has text (always), or never")
    p.add_argument("--highlight-below", type=_fraction, metavar="CONF",
                   help="xlsx: highlight and comment cells recognised with a confidence below CONF")
    p.add_argument("--bom", action="store_true", help="csv: start files with a UTF-8 BOM (for Excel)")
    p.add_argument("--csv-raw", action="store_true",
                   help="csv: write text as read, even text a spreadsheet would run as a formula "
                        "(default: such text gets a leading ')")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Turn scanned tables into spreadsheets, offline.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument("--verbose", "-v", "--debug", dest="verbose", action="store_true",
                        help="add the traceback to an error message (and log DEBUG to the log file)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("convert", help="convert scans and PDFs to .xlsx, .csv, .json, .html or .md")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help=f"{scan_types_text()} files")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output file (all tables of all inputs) or folder (one file per input; end with /)")
    p.add_argument("--format", choices=FORMATS, help="default: from OUT's extension, else xlsx")
    _recognition_options(p)
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("batch", help="convert every scan in a folder, with a report")
    p.add_argument("in_dir", metavar="IN_DIR")
    p.add_argument("out_dir", metavar="OUT_DIR")
    p.add_argument("--recursive", "-r", action="store_true", help="also convert scans in subfolders")
    p.add_argument("--format", choices=FORMATS, default="xlsx")
    p.add_argument("--workers", type=_positive_int, default=None,
                   help="parallel worker processes on this machine (default 1; "
                        "--executor dask: one per core)")
    p.add_argument("--resume", action="store_true", help="skip files an interrupted run already converted")
    p.add_argument("--file-timeout", type=_seconds, default=None, metavar="SECONDS",
                   help="stop a file that takes longer, report it as 'timeout' and go on (default "
                        f"{DEFAULT_FILE_TIMEOUT:g}, or $TABLESCRIBE_FILE_TIMEOUT; 0: no limit). "
                        "Files run in worker processes when there is a limit")
    p.add_argument("--executor", choices=("local", "dask"), default="local",
                   help="local: a pool of processes on this machine (default); dask: a Dask cluster "
                        "(with no --scheduler, a LocalCluster of --workers processes)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on the Dask cluster whose scheduler is at ADDRESS (tcp://host:8786); "
                        "IN_DIR and OUT_DIR (paths or fsspec URLs such as s3://bucket/scans) "
                        "must be reachable from every worker")
    _recognition_options(p)
    p.set_defaults(func=cmd_batch)

    p = sub.add_parser("model", help="manage recognition models")
    model_sub = p.add_subparsers(dest="model_command", metavar="ACTION", required=True)
    d = model_sub.add_parser("download", help="download a model from the Hugging Face Hub")
    d.add_argument("model_id", metavar="ID", help="e.g. microsoft/trocr-small-printed")
    d.add_argument("--revision", help="branch, tag or commit")
    d.set_defaults(func=cmd_model_download)
    t = model_sub.add_parser("tune", help="fine-tune a copy of a model on your corrections")
    t.add_argument("corrections", metavar="CORRECTIONS_DIR",
                   help="PNG crops + labels.jsonl ({\"image\": ..., \"text\": ...} a line)")
    t.add_argument("-o", "--output", required=True, metavar="MODEL_DIR",
                   help="where the tuned model folder is written (new or empty)")
    t.add_argument("--base", metavar="MODEL", help="model folder to start from (default: the embedded model)")
    t.add_argument("--minutes", type=float, default=10.0, help="training time budget (default 10)")
    t.add_argument("--max-steps", type=_positive_int, help="stop after this many optimizer steps")
    t.add_argument("--train", action="append", metavar="PATTERN",
                   help="train only parameters whose name matches (fnmatch; repeatable), e.g. "
                        "'decoder.*' 'encoder.encoder.layer.{last}.*'; the rest is frozen "
                        "(default: every parameter)")
    t.add_argument("--device", help="cpu, cuda or cuda:N (default: CUDA when present)")
    t.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_model_tune)

    # No options of its own: main() hands what follows "gui" to the window's parser, so
    # `tablescribe gui --help` lists the window's options.
    p = sub.add_parser("gui", help="open the desktop application (gui --help: its options)",
                       add_help=False)
    p.set_defaults(func=cmd_gui)

    p = sub.add_parser("desktop", help="add tablescribe to (or remove it from) the desktop's menu")
    p.add_argument("action", choices=("install", "uninstall"),
                   help="install: the .desktop entry and icons under ~/.local/share")
    p.set_defaults(func=cmd_desktop)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "gui":
        args.gui_args = extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "batch":  # --workers' default depends on the executor
        args.workers_given = args.workers is not None
        args.workers = args.workers or 1
    verbose = args.verbose or os.environ.get("TABLESCRIBE_DEBUG") == "1"
    from app.logs import configure_logging
    configure_logging(verbose)
    log.info("%s %s: %s", PROG, _version(), " ".join(sys.argv[1:] if argv is None else argv))
    from app import foreign_packages
    clash = foreign_packages()
    if clash:
        _error(f"another project's package shadows tablescribe's: {', '.join(clash)}; "
               "install tablescribe in an environment of its own (pipx install, or the bundle)")
        return EXIT_FAILED
    try:
        if args.command == "batch" and args.file_timeout is None:
            args.file_timeout = _default_file_timeout()
        return args.func(args)
    except _UsageError as exc:
        parser.print_usage(sys.stderr)
        _error(str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:
        log.exception("%s failed", args.command, extra=_FILE_ONLY)
        if verbose:
            traceback.print_exc()
        _error(describe_error(exc))
        return EXIT_FAILED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
