"""app.cluster: a batch on a real Dask LocalCluster of worker processes.

The cluster is real (2 worker processes behind nannies, one thread each, on
127.0.0.1), so are the pages (rendered by the tests), page loading, structure
detection, cropping and export; the recognizer is a test fake from tests/app/fakes
(the real model is tested elsewhere), slowed down where a test needs files in
flight when it kills a worker.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import openpyxl
import pytest

distributed = pytest.importorskip("distributed", reason="Dask distributed (the 'cluster' extra) runs these tests")
fsspec = pytest.importorskip("fsspec", reason="fsspec (installed with Dask) reads and writes URLs")

from app import cli, cluster, recognizers
from app.batch import run_batch
from app.executors import SerialExecutor
from app.journal import JOURNAL_NAME
from app.recognizers import ModelLoadError
from app.report import REPORT_CSV
from app.run_lock import LOCK_NAME
from tests.app import fakes
from tests.app.fakes import TEXTS, table_of, write_scan

REPO = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- helpers run on workers
# Module-level, so workers import them by name from this module.


class SlowRecognizer(fakes.BlobRecognizer):
    """Takes its time, so that files are in flight when a test kills a worker."""

    def recognize(self, crops, beams: int = 1):
        time.sleep(0.6)
        return super().recognize(crops, beams)


def slow_factory(model, device):
    return SlowRecognizer()


def counting_factory(model, device):
    """Notes each load as a line "<pid>" in the file named by ``model``."""
    with open(model, "a", encoding="utf-8") as fh:
        fh.write(f"{os.getpid()}\n")
    return fakes.BlobRecognizer()


def broken_factory(model, device):
    raise OSError("weights missing")


class FakeModelPlugin(distributed.WorkerPlugin):
    """Makes every worker's recognizers.load_recognizer the blob fake (the CLI has no
    way to pass a factory), restarted workers included."""

    def setup(self, worker):
        self.original = recognizers.load_recognizer
        recognizers.load_recognizer = fakes.blob_factory

    def teardown(self, worker):
        recognizers.load_recognizer = self.original


def executing_keys(dask_worker):
    return [ts.key for ts in dask_worker.state.tasks.values() if ts.state == "executing"]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def shared_client():
    with cluster.local_cluster(2, dashboard=":0") as c:
        yield c


@pytest.fixture
def client(shared_client):
    """The module's cluster with both workers up (a test before may have killed one)."""
    shared_client.wait_for_workers(2, timeout=60)
    return shared_client


def make_pages(src: Path, n: int = 6) -> dict[str, list[list[str]]]:
    """n rendered pages with different contents; returns the blob layout of each."""
    layouts = {}
    for i in range(n):
        layout = [["1", "2", str(3 + i % 9)], [str(4 + (i * 5) % 8), "", "11"]]
        write_scan(src / f"page{i:02d}.png", [table_of(layout)])
        layouts[f"page{i:02d}.png"] = layout
    return layouts


def corrupt(path: Path) -> Path:
    path.write_bytes(write_scan(path.with_suffix(".tmp.png"), [table_of([["1"]])]).read_bytes()[:300])
    path.with_suffix(".tmp.png").unlink()
    return path


def sheet(path) -> list[list]:
    return [[c.value for c in row] for row in openpyxl.load_workbook(path).active.iter_rows()]


def check_outputs(out: Path, src: Path, layouts: dict[str, list[list[str]]], tmp_path: Path) -> None:
    """Each page's workbook holds what converting it in this process gives, and that
    is the text the fake reads from its blobs, typed by the exporter."""
    reference = tmp_path / "reference"
    run_batch(src, reference, executor=SerialExecutor(), recognizer_factory=fakes.blob_factory)
    for name, layout in layouts.items():
        got = sheet(out / name.replace(".png", ".xlsx"))
        assert got == sheet(reference / name.replace(".png", ".xlsx")), name
        assert (got[0][0], got[0][1], got[1][1], got[1][2]) == (TEXTS[1], 1234.5, None, TEXTS[11])
        assert len(got) == len(layout) and len(got[0]) == len(layout[0])


def journal_files(out: Path) -> list[str]:
    return [json.loads(line)["row"]["file"] for line in (out / JOURNAL_NAME).read_text().splitlines()]


# --------------------------------------------------------------------------- tests


def test_importing_the_app_does_not_import_dask():
    code = ("import sys, app.batch, app.cli, app.cluster, app.locations; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.strip() == "[]"


def test_a_killed_worker_costs_nothing_and_every_file_is_there_once(client, tmp_path):
    src, out = tmp_path / "scans", tmp_path / "out"
    layouts = make_pages(src, 8)
    corrupt(src / "broken.png")
    files = sorted([*layouts, "broken.png"])
    pids_before = client.run(os.getpid)
    killed = {}

    def kill_a_busy_worker(row, done, total):
        if killed:
            return
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            busy = {addr: keys for addr, keys in client.run(executing_keys).items() if keys}
            if busy:
                addr, keys = next(iter(busy.items()))
                pid = client.run(os.getpid, workers=[addr])[addr]
                os.kill(pid, signal.SIGKILL)
                # Keys end with the task's index in the batch: files in sorted order.
                killed.update(pid=pid, file=files[int(keys[0].rsplit("-", 1)[1])])
                return
            time.sleep(0.05)

    report = run_batch(src, out, executor=cluster.DaskExecutor(client), recognizer_factory=slow_factory,
                       progress=kill_a_busy_worker)

    assert killed, "no task was running to kill"
    # The report and the journal list every file exactly once.
    assert [r.file for r in report.rows] == files
    assert collections.Counter(journal_files(out)) == collections.Counter(files)
    statuses = {r.file: r.status for r in report.rows}
    assert statuses == {**{f: "ok" for f in layouts}, "broken.png": "failed"}
    assert statuses[killed["file"]] == "ok"  # its task ran again on another worker
    [bad] = report.failed
    assert bad.error.startswith(f"{src / 'broken.png'}: corrupt or truncated PNG")
    # Every output once, complete and correct; no temporary file left behind.
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith("tablescribe-report")) == \
        sorted([JOURNAL_NAME, LOCK_NAME] + [f.replace(".png", ".xlsx") for f in layouts])
    check_outputs(out, src, layouts, tmp_path)
    # The nanny replaced the killed worker.
    deadline = time.monotonic() + 30
    while len(client.nthreads()) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    pids_after = set(client.run(os.getpid, on_error="ignore").values())
    assert killed["pid"] in pids_before.values() and killed["pid"] not in pids_after
    assert len(pids_after) == 2


def test_a_file_that_kills_every_worker_is_reported_once(client, tmp_path):
    src, out = tmp_path / "scans", tmp_path / "out"
    write_scan(src / "a.png", [table_of([["1", "2"]])])
    write_scan(src / "poison.png", [table_of([["1", "9"]])])  # 9 blobs: the fake kills its process
    write_scan(src / "z.png", [table_of([["11", "12"]])])
    report = run_batch(src, out, executor=cluster.DaskExecutor(client),
                       recognizer_factory=fakes.crashing_factory)
    assert [(r.file, r.status) for r in report.rows] == [("a.png", "ok"), ("poison.png", "failed"),
                                                         ("z.png", "ok")]
    deaths = cluster.DEFAULT_ALLOWED_FAILURES + 1
    assert report.failed[0].error.startswith(f"{deaths} worker processes died while converting this file")
    assert sorted(p.name for p in out.glob("*.xlsx")) == ["a.xlsx", "z.xlsx"]
    assert journal_files(out).count("poison.png") == 1


def test_each_worker_loads_the_recognizer_once_when_it_starts(client, tmp_path):
    src = tmp_path / "scans"
    make_pages(src, 6)
    loads = tmp_path / "loads.txt"
    report = run_batch(src, tmp_path / "out", executor=cluster.DaskExecutor(client),
                       recognizer_factory=counting_factory, model=str(loads))
    assert [r.status for r in report.rows] == ["ok"] * 6
    pids = loads.read_text().split()
    # Once per worker process, by the plugin, whatever the number of files.
    assert len(pids) == len(set(pids)) == 2
    assert set(pids) == {str(p) for p in client.run(os.getpid).values()}
    # A worker that joins later (a restart) gets the plugin too.
    pid = next(iter(client.run(os.getpid).values()))
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        current = set(client.run(os.getpid, on_error="ignore").values())
        lines = loads.read_text().split()
        if len(current) == 2 and pid not in current and len(lines) == 3:
            break
        time.sleep(0.1)
    [new_pid] = current - {int(p) for p in pids}
    assert sorted(lines) == sorted([*pids, str(new_pid)])


def test_resume_on_the_cluster_skips_what_was_converted(client, tmp_path):
    src, out = tmp_path / "scans", tmp_path / "out"
    layouts = make_pages(src, 5)

    def stop_after_two(row, done, total):
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_batch(src, out, executor=cluster.DaskExecutor(client), recognizer_factory=slow_factory,
                  progress=stop_after_two)
    first = journal_files(out)
    assert len(first) == 2
    done_before = {f: (out / f.replace(".png", ".xlsx")).stat().st_mtime_ns for f in first}
    report = run_batch(src, out, resume=True, executor=cluster.DaskExecutor(client),
                       recognizer_factory=fakes.blob_factory)
    assert [r.file for r in report.rows] == sorted(layouts)
    assert {r.file for r in report.skipped} == set(first)
    assert {r.file for r in report.converted} == set(layouts) - set(first)
    for f, mtime in done_before.items():  # not converted again
        assert (out / f.replace(".png", ".xlsx")).stat().st_mtime_ns == mtime
    check_outputs(out, src, layouts, tmp_path)


def test_a_model_that_cannot_be_loaded_stops_the_batch(client, tmp_path):
    src = tmp_path / "scans"
    make_pages(src, 3)
    with pytest.raises(ModelLoadError, match="cannot load m1: OSError: weights missing"):
        run_batch(src, tmp_path / "out", model="m1", executor=cluster.DaskExecutor(client),
                  recognizer_factory=broken_factory)
    assert (tmp_path / "out" / REPORT_CSV).exists()


def test_dashboard_address(client):
    address = cluster.dashboard_address(client)
    assert address.startswith("http://127.0.0.1:") and address.endswith("/status")

    class NoDashboard:
        def scheduler_info(self, n_workers=0):
            return {"address": "tcp://10.0.0.5:8786", "services": {}}

    assert cluster.dashboard_address(NoDashboard()) is None


def test_cli_batch_on_a_scheduler(client, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(recognizers, "load_recognizer", fakes.blob_factory)  # the client's own copy
    client.register_plugin(FakeModelPlugin(), name="fake-model")
    try:
        src, out = tmp_path / "scans", tmp_path / "out"
        layouts = make_pages(src, 3)
        corrupt(src / "broken.png")
        code = cli.main(["batch", str(src), str(out), "--scheduler", client.scheduler.address])
        stdout, err = capsys.readouterr()
        assert code == 1, err  # broken.png failed
        assert "4 file(s): 3 converted, 1 failed" in stdout
        assert f"Dask {client.scheduler.address}: 2 worker(s); dashboard: http://127.0.0.1:" in err
        assert "failed: broken.png:" in err
        check_outputs(out, src, layouts, tmp_path)
        code = cli.main(["batch", str(src), str(out), "--scheduler", client.scheduler.address, "--resume"])
        stdout, _ = capsys.readouterr()
        assert "3 skipped (done earlier), 1 failed" in stdout
        code = cli.main(["batch", str(src), str(out), "--scheduler", client.scheduler.address,
                         "--workers", "2"])
        assert code == 2 and "--workers starts local processes" in capsys.readouterr().err
    finally:
        client.unregister_worker_plugin("fake-model")


def test_cli_executor_dask_starts_a_local_cluster(tmp_path, capsys, monkeypatch):
    real = cluster.local_cluster
    started = []

    @contextlib.contextmanager
    def local_cluster_with_fake_model(workers=None, **kwargs):
        started.append(workers)
        with real(workers, dashboard=":0", **kwargs) as c:
            c.register_plugin(FakeModelPlugin(), name="fake-model")
            yield c

    monkeypatch.setattr(cluster, "local_cluster", local_cluster_with_fake_model)
    monkeypatch.setattr(recognizers, "load_recognizer", fakes.blob_factory)
    src, out = tmp_path / "scans", tmp_path / "out"
    layouts = make_pages(src, 2)
    code = cli.main(["batch", str(src), str(out), "--executor", "dask", "--workers", "1", "-q"])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    assert started == [1]
    assert "Dask local cluster at tcp://127.0.0.1:" in err and "1 worker(s); dashboard: http://127.0.0.1:" in err
    assert "2 file(s): 2 converted, 0 failed" in stdout
    check_outputs(out, src, layouts, tmp_path)


def test_cli_unreachable_scheduler_is_one_line(tmp_path, capsys):
    src = tmp_path / "scans"
    make_pages(src, 1)
    address = "tcp://127.0.0.1:9"  # nothing listens on the discard port
    with _short_connect_timeout():
        code = cli.main(["batch", str(src), str(tmp_path / "out"), "--scheduler", address])
    err = capsys.readouterr().err
    assert code == 1
    [line] = err.strip().splitlines()
    assert line.startswith(f"tablescribe: cannot reach the Dask scheduler at {address}: ")


@contextlib.contextmanager
def _short_connect_timeout():
    import dask
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        yield


# --------------------------------------------------------------------------- fsspec URLs


@pytest.fixture
def memory_fs(monkeypatch, tmp_path):
    fs = fsspec.filesystem("memory")
    root = f"/t{time.monotonic_ns()}"
    monkeypatch.setenv("TABLESCRIBE_JOURNAL_DIR", str(tmp_path / "journals"))
    yield fs, root
    fs.rm(root, recursive=True)


def test_urls_in_and_out(memory_fs, tmp_path, monkeypatch):
    monkeypatch.setattr(recognizers, "_RECOGNIZER", recognizers.RecognizerCache())
    fs, root = memory_fs
    local = tmp_path / "pages"
    layouts = make_pages(local, 3)
    for name in layouts:
        fs.pipe(f"{root}/scans/{name}", (local / name).read_bytes())
    fs.pipe(f"{root}/scans/sub/deep.png", (local / "page00.png").read_bytes())
    fs.pipe(f"{root}/scans/broken.png", corrupt(tmp_path / "broken.png").read_bytes())
    fs.pipe(f"{root}/scans/.hidden.png", b"x")
    fs.pipe(f"{root}/scans/notes.txt", b"not a scan")
    src, out = f"memory://{root}/scans", f"memory://{root}/out"

    report = run_batch(src, out, recursive=True, executor=SerialExecutor(),
                       recognizer_factory=fakes.blob_factory)
    assert [(r.file, r.status) for r in report.rows] == [
        ("broken.png", "failed"), ("page00.png", "ok"), ("page01.png", "ok"), ("page02.png", "ok"),
        ("sub/deep.png", "ok")]
    # The error names the URL, not the worker's temporary copy.
    assert report.failed[0].error.startswith(f"{src}/broken.png: corrupt or truncated")
    assert report.rows[1].outputs == [f"{out}/page00.xlsx"]
    names = sorted(p.rsplit("/", 1)[1] for p in fs.find(f"{root}/out"))
    assert names == ["deep.xlsx", "page00.xlsx", "page01.xlsx", "page02.xlsx",
                     "tablescribe-report.csv", "tablescribe-report.json"]  # no .part left
    fetched = tmp_path / "fetched"
    for name in layouts:
        xlsx = name.replace(".png", ".xlsx")
        (fetched / xlsx).parent.mkdir(exist_ok=True)
        (fetched / xlsx).write_bytes(fs.cat_file(f"{root}/out/{xlsx}"))
    check_outputs(fetched, local, layouts, tmp_path)
    assert report.report_csv == f"{out}/tablescribe-report.csv"
    assert b"broken.png,failed" in fs.cat_file(f"{root}/out/tablescribe-report.csv")

    # Resume: the journal lives on this machine; a changed input is converted again.
    fs.pipe(f"{root}/scans/page01.png", (local / "page02.png").read_bytes())
    fs.rm(f"{root}/out/page02.xlsx")
    again = run_batch(src, out, recursive=True, resume=True, executor=SerialExecutor(),
                      recognizer_factory=fakes.blob_factory)
    assert [(r.file, r.status) for r in again.rows] == [
        ("broken.png", "failed"), ("page00.png", "skipped"), ("page01.png", "ok"), ("page02.png", "ok"),
        ("sub/deep.png", "skipped")]
    (fetched / "page01.xlsx").write_bytes(fs.cat_file(f"{root}/out/page01.xlsx"))
    assert sheet(fetched / "page01.xlsx") == sheet(fetched / "page02.xlsx")


def test_url_outputs_never_replace_a_scan(memory_fs, tmp_path, monkeypatch):
    monkeypatch.setattr(recognizers, "_RECOGNIZER", recognizers.RecognizerCache())
    fs, root = memory_fs
    page = write_scan(tmp_path / "a.png", [table_of([["1", "2"]])])
    fs.pipe(f"{root}/in/a.png", page.read_bytes())
    fs.pipe(f"{root}/out/a.csv", page.read_bytes())  # somebody's scan where the output would go
    report = run_batch(f"memory://{root}/in", f"memory://{root}/out", fmt="csv",
                       executor=SerialExecutor(), recognizer_factory=fakes.blob_factory)
    [row] = report.rows
    assert row.status == "failed"
    assert row.error == f"memory://{root}/out/a.csv: already exists and holds an image or PDF; refusing to overwrite it"
    assert fs.cat_file(f"{root}/out/a.csv") == page.read_bytes()


def test_file_urls_are_local_paths(tmp_path, monkeypatch):
    monkeypatch.setattr(recognizers, "_RECOGNIZER", recognizers.RecognizerCache())
    src = tmp_path / "scans"
    make_pages(src, 1)
    report = run_batch(f"file://{src}", f"file://{tmp_path / 'out'}", executor=SerialExecutor(),
                       recognizer_factory=fakes.blob_factory)
    assert report.rows[0].outputs == [str(tmp_path / "out" / "page00.xlsx")]
    assert (tmp_path / "out" / JOURNAL_NAME).exists()


@pytest.fixture
def s3(monkeypatch, tmp_path):
    """An S3 endpoint on 127.0.0.1 (moto's server) that the test process and the
    worker processes reach through s3fs, configured by the usual AWS variables."""
    s3fs = pytest.importorskip("s3fs", reason="s3fs (test dependency) reads and writes s3:// URLs")
    moto_server = pytest.importorskip("moto.server", reason="moto[server] (test dependency) serves S3 locally")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1",
                        "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{port}",
                        "TABLESCRIBE_JOURNAL_DIR": str(tmp_path / "journals")}.items():
        monkeypatch.setenv(name, value)  # before the cluster starts: its workers inherit them
    s3fs.S3FileSystem.clear_instance_cache()
    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    fs.mkdir("archive")
    try:
        yield fs
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
        server.stop()


def test_s3_archive_on_the_cluster(s3, tmp_path):
    local = tmp_path / "pages"
    layouts = make_pages(local, 4)
    for name in layouts:
        s3.put_file(str(local / name), f"archive/scans/{name}")
    s3.put_file(str(corrupt(tmp_path / "broken.png")), "archive/scans/broken.png")

    with cluster.local_cluster(1, dashboard=":0") as c:
        report = run_batch("s3://archive/scans", "s3://archive/out", executor=cluster.DaskExecutor(c),
                           recognizer_factory=fakes.blob_factory)
        assert [(r.file, r.status) for r in report.rows] == [("broken.png", "failed")] + \
            [(name, "ok") for name in sorted(layouts)]
        assert report.failed[0].error.startswith("s3://archive/scans/broken.png: corrupt or truncated PNG")
        s3.invalidate_cache()
        assert sorted(s3.ls("archive/out")) == sorted(
            [f"archive/out/{n.replace('.png', '.xlsx')}" for n in layouts]
            + ["archive/out/tablescribe-report.csv", "archive/out/tablescribe-report.json"])
        fetched = tmp_path / "fetched"
        fetched.mkdir()
        for name in layouts:
            xlsx = name.replace(".png", ".xlsx")
            s3.get_file(f"archive/out/{xlsx}", str(fetched / xlsx))
        check_outputs(fetched, local, layouts, tmp_path)
        assert json.loads(s3.cat_file("archive/out/tablescribe-report.json"))["ok"] == 4

        # Resume from the journal kept on this machine: nothing is converted again.
        again = run_batch("s3://archive/scans", "s3://archive/out", resume=True,
                          executor=cluster.DaskExecutor(c), recognizer_factory=fakes.blob_factory)
        assert [(r.file, r.status) for r in again.rows] == [("broken.png", "failed")] + \
            [(name, "skipped") for name in sorted(layouts)]


def test_a_file_past_its_time_limit_frees_its_worker(client, tmp_path):
    """Dask cannot stop a running task: the executor cancels the file and restarts its
    worker, so the hung thread ends with the process and the batch goes on."""
    src, out = tmp_path / "scans", tmp_path / "out"
    layouts = [f"good{i}.png" for i in range(4)]
    for i, name in enumerate(layouts):  # no cell of 9 blobs: the troubled fake kills on those
        write_scan(src / name, [table_of([["1", "2"], [str(3 + i), "1"]])])
    write_scan(src / "hangs.png", [table_of([["1", "10"]])])  # the troubled fake hangs on it
    before = set(client.run(os.getpid).values())
    report = run_batch(src, out, executor=cluster.DaskExecutor(client, file_timeout=8),
                       recognizer_factory=fakes.troubled_factory)
    rows = {r.file: r for r in report.rows}
    assert rows.pop("hangs.png").status == "timeout"
    assert {f: (r.status, r.error) for f, r in rows.items()} == {f: ("ok", "") for f in layouts}
    assert "time limit of 8 s" in report.timed_out[0].error
    assert sorted(journal_files(out)) == sorted([*layouts, "hangs.png"])  # each once
    # The worker that held the file was replaced: two workers again, one of them new.
    client.wait_for_workers(2, timeout=60)
    after = set(client.run(os.getpid).values())
    assert len(after) == 2 and len(after - before) == 1
    report = run_batch(src, tmp_path / "again", executor=cluster.DaskExecutor(client),
                       recognizer_factory=fakes.blob_factory)
    assert [r.status for r in report.rows] == ["ok"] * 5
