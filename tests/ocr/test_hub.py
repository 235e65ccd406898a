"""ocr.hub against a Hub mirror served from a thread on 127.0.0.1 (never the real network).

The mirror answers the endpoints huggingface_hub 2.x's snapshot_download uses:

* ``GET  /api/models/{id}[/revision/{rev}]``      model info: ``sha`` (commit) and ``siblings``
* ``GET  /api/models/{id}/tree/{commit}?recursive=True``   file list with sizes / blob ids / lfs
* ``HEAD /{id}/resolve/{commit}/{file}``            ``X-Repo-Commit``, ``ETag``, ``Content-Length``
* ``GET  /{id}/resolve/{commit}/{file}``            the bytes

Unknown repos and revisions get 404 with the ``X-Error-Code`` header the Hub sends.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from ocr import hub
from ocr.hub import HubError, ModelNotFoundError, download_model, is_model_folder, resolve_model

REPO_ID = "acme/trocr-tiny"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
COMMIT_V1 = "fedcba9876543210fedcba9876543210fedcba98"


def write_model_folder(folder: Path, marker: float = 1.0, bin_too: bool = True) -> Path:
    """A small model folder like the ones on the Hub (configs, tokenizer files, weights)."""
    from engine.io import save_safetensors

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "vision-encoder-decoder"}))
    (folder / "preprocessor_config.json").write_text(
        json.dumps({"size": {"height": 32, "width": 32}})
    )
    (folder / "generation_config.json").write_text(json.dumps({"decoder_start_token_id": 2}))
    (folder / "vocab.json").write_text(json.dumps({"<s>": 0, "</s>": 2, "a": 3}))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    save_safetensors({"w": np.full((4, 4), marker, np.float32)}, folder / "model.safetensors")
    if bin_too:
        (folder / "pytorch_model.bin").write_bytes(b"PK-not-needed" * 100)
    (folder / "flax_model.msgpack").write_bytes(b"\0" * 1000)  # must never be fetched
    (folder / "README.md").write_text("# tiny\n")
    return folder


@dataclass
class Mirror:
    """A Hub mirror: repos -> {revision name or commit: (commit, folder)}."""

    repos: dict[str, dict[str, tuple[str, Path]]]
    requests: list[tuple[str, str]] = field(default_factory=list)
    url: str = ""

    def files(self, folder: Path) -> list[str]:
        return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _is_lfs(name: str) -> bool:
    return name.endswith((".safetensors", ".bin", ".msgpack"))


def _make_handler(mirror: Mirror):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # keep pytest output clean
            pass

        def _send(
            self, status: int, body: bytes = b"", headers: dict | None = None, head: bool = False
        ) -> None:
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def _json(self, obj: object) -> None:
            self._send(200, json.dumps(obj).encode(), {"Content-Type": "application/json"})

        def _not_found(self, code: str, head: bool = False) -> None:
            self._send(
                404,
                b'{"error": "not found"}',
                {"X-Error-Code": code, "Content-Type": "application/json"},
                head,
            )

        def _lookup(self, repo: str, rev: str):
            revisions = mirror.repos.get(repo)
            if revisions is None:
                return None, "RepoNotFound"
            if rev not in revisions:
                return None, "RevisionNotFound"
            return revisions[rev], None

        def _handle(self, head: bool) -> None:
            url = urllib.parse.urlsplit(self.path)
            path = urllib.parse.unquote(url.path)
            mirror.requests.append((self.command, path))
            parts = path.strip("/").split("/")
            if parts[:2] == ["api", "models"] and len(parts) >= 4:
                repo = "/".join(parts[2:4])
                rest = parts[4:]
                rev = rest[1] if len(rest) >= 2 else "main"
                found, error = self._lookup(repo, rev)
                if error:
                    return self._not_found(error)
                commit, folder = found
                if not rest or rest[0] == "revision":
                    return self._json(
                        {
                            "id": repo,
                            "modelId": repo,
                            "sha": commit,
                            "private": False,
                            "siblings": [{"rfilename": f} for f in mirror.files(folder)],
                        }
                    )
                if rest[0] == "tree":
                    entries = []
                    for name in mirror.files(folder):
                        data = (folder / name).read_bytes()
                        entry = {
                            "type": "file",
                            "path": name,
                            "size": len(data),
                            "oid": _git_blob_sha1(data),
                        }
                        if _is_lfs(name):
                            entry["lfs"] = {
                                "oid": hashlib.sha256(data).hexdigest(),
                                "size": len(data),
                                "pointerSize": 134,
                            }
                        entries.append(entry)
                    return self._json(entries)
            if len(parts) >= 5 and parts[2] == "resolve":
                repo, rev, name = "/".join(parts[:2]), parts[3], "/".join(parts[4:])
                found, error = self._lookup(repo, rev)
                if error:
                    return self._not_found(error, head)
                commit, folder = found
                file = folder / name
                if not file.is_file():
                    return self._not_found("EntryNotFound", head)
                data = file.read_bytes()
                etag = hashlib.sha256(data).hexdigest() if _is_lfs(name) else _git_blob_sha1(data)
                headers = {
                    "X-Repo-Commit": commit,
                    "ETag": f'"{etag}"',
                    "Content-Type": "application/octet-stream",
                    "Accept-Ranges": "bytes",
                }
                if _is_lfs(name):
                    headers["X-Linked-Etag"] = f'"{etag}"'
                    headers["X-Linked-Size"] = str(len(data))
                return self._send(200, data, headers, head)
            self._send(404, b"unknown endpoint")

        def do_GET(self) -> None:
            self._handle(head=False)

        def do_HEAD(self) -> None:
            self._handle(head=True)

    return Handler


def _serve(handler) -> tuple[http.server.ThreadingHTTPServer, threading.Thread]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture
def hub_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private HF_HOME and no inherited Hub/proxy settings."""
    import huggingface_hub.constants

    home = tmp_path / "hf_home"
    monkeypatch.setenv("HF_HOME", str(home))
    for name in (
        "HF_HUB_CACHE",
        "HUGGINGFACE_HUB_CACHE",
        "HF_HUB_OFFLINE",
        "HF_ENDPOINT",
        "HF_TOKEN",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    # huggingface_hub froze HF_HUB_OFFLINE when first imported; make that snapshot match
    # the environment of the test (ocr.hub itself reads the environment at call time).
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    return home / "hub"


@pytest.fixture
def mirror(tmp_path: Path, hub_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Mirror]:
    main = write_model_folder(tmp_path / "served" / "main", marker=1.0)
    v1 = write_model_folder(tmp_path / "served" / "v1", marker=2.0, bin_too=False)
    only_bin = tmp_path / "served" / "bin"
    write_model_folder(only_bin, marker=3.0)
    (only_bin / "model.safetensors").unlink()
    no_weights = tmp_path / "served" / "none"
    no_weights.mkdir(parents=True)
    (no_weights / "config.json").write_text("{}")
    repos = {
        REPO_ID: {
            "main": (COMMIT, main),
            COMMIT: (COMMIT, main),
            "v1": (COMMIT_V1, v1),
            COMMIT_V1: (COMMIT_V1, v1),
        },
        "acme/bin-only": {"main": (COMMIT, only_bin), COMMIT: (COMMIT, only_bin)},
        "acme/no-weights": {"main": (COMMIT, no_weights), COMMIT: (COMMIT, no_weights)},
    }
    state = Mirror(repos)
    server, thread = _serve(_make_handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("HF_ENDPOINT", state.url)
    yield state
    server.shutdown()
    server.server_close()
    thread.join(5)


# ----------------------------------------------------------------------------- download


def test_download_from_mirror_into_standard_cache(mirror: Mirror, hub_env: Path, capsys) -> None:
    folder = download_model(REPO_ID, progress=False)
    assert folder == hub_env / "models--acme--trocr-tiny" / "snapshots" / COMMIT
    assert is_model_folder(folder)
    fetched = sorted(p.name for p in folder.iterdir())
    assert fetched == [
        "config.json",
        "generation_config.json",
        "merges.txt",
        "model.safetensors",
        "preprocessor_config.json",
        "vocab.json",
    ]  # no .bin, flax, README
    from engine.io import read_safetensors

    assert read_safetensors(folder / "model.safetensors")["w"].array[0, 0] == 1.0
    # The standard cache layout: refs/main -> commit, so offline lookups work later.
    assert (hub_env / "models--acme--trocr-tiny" / "refs" / "main").read_text() == COMMIT
    gets = [p for m, p in mirror.requests if m == "GET" and "/resolve/" in p]
    assert not any(
        p.endswith(("flax_model.msgpack", "pytorch_model.bin", "README.md")) for p in gets
    )
    assert any(p == f"/api/models/{REPO_ID}/revision/main" for _, p in mirror.requests)
    assert capsys.readouterr().err == ""  # progress=False prints nothing


def test_second_download_uses_the_cache(mirror: Mirror) -> None:
    first = download_model(REPO_ID, progress=False)
    mirror.requests.clear()
    second = download_model(REPO_ID, progress=False)
    assert first == second
    assert not [p for m, p in mirror.requests if m == "GET" and "/resolve/" in p]


def test_revision_and_bin_fallback(mirror: Mirror, hub_env: Path) -> None:
    v1 = download_model(REPO_ID, revision="v1", progress=False)
    assert v1.name == COMMIT_V1
    from engine.io import read_safetensors

    assert read_safetensors(v1 / "model.safetensors")["w"].array[0, 0] == 2.0
    only_bin = download_model("acme/bin-only", progress=False)
    assert (only_bin / "pytorch_model.bin").is_file() and not (
        only_bin / "model.safetensors"
    ).exists()


def test_explicit_cache_dir(mirror: Mirror, tmp_path: Path) -> None:
    folder = download_model(REPO_ID, cache_dir=tmp_path / "elsewhere", progress=False)
    assert folder.is_relative_to(tmp_path / "elsewhere")


def test_download_errors_are_clear(mirror: Mirror) -> None:
    with pytest.raises(HubError, match=f"model acme/missing not found on {mirror.url}"):
        download_model("acme/missing", progress=False)
    with pytest.raises(HubError, match=f"revision 'nope' of {REPO_ID} not found"):
        download_model(REPO_ID, revision="nope", progress=False)
    with pytest.raises(HubError, match="has no model.safetensors or pytorch_model.bin"):
        download_model("acme/no-weights", progress=False)
    with pytest.raises(HubError, match="not a valid model id"):
        download_model("not a/valid//id", progress=False)


def test_unreachable_endpoint(hub_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    with pytest.raises(HubError, match=f"cannot reach http://127.0.0.1:{port}"):
        download_model(REPO_ID, progress=False)


# ----------------------------------------------------------------------------- proxy


def _make_proxy(log: list[str], upstream_port: int, host_alias: str):
    """A forward HTTP proxy that serves `host_alias` from the local mirror."""
    import http.client

    class Proxy(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def _forward(self) -> None:
            log.append(f"{self.command} {self.path}")
            target = urllib.parse.urlsplit(self.path)  # absolute-form: http://host/path
            if target.hostname != host_alias:
                self.send_response(502)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=30)
            path = target.path + (f"?{target.query}" if target.query else "")
            headers = {
                k: v
                for k, v in self.headers.items()
                if k.lower() not in ("proxy-connection", "host")
            }
            conn.request(self.command, path, headers=headers)
            response = conn.getresponse()
            body = response.read()
            self.send_response(response.status)
            for k, v in response.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            conn.close()

        do_GET = do_HEAD = _forward

    return Proxy


def test_download_goes_through_proxy_variables(
    mirror: Mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The endpoint's host name only exists inside the proxy (".test" never resolves), so
    # the download succeeds only if HTTP_PROXY is honoured.
    upstream_port = int(mirror.url.rsplit(":", 1)[1])
    log: list[str] = []
    proxy, thread = _serve(_make_proxy(log, upstream_port, "hub-mirror.test"))
    try:
        monkeypatch.setenv("HF_ENDPOINT", "http://hub-mirror.test")
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
        folder = download_model(REPO_ID, progress=False)
        assert is_model_folder(folder)
        assert any(line.startswith("GET http://hub-mirror.test/api/models/") for line in log)
        assert any("/resolve/" in line and line.endswith("model.safetensors") for line in log)
    finally:
        proxy.shutdown()
        proxy.server_close()
        thread.join(5)
        monkeypatch.delenv("HTTP_PROXY")
        hub._refresh_session_for_proxies()  # drop the proxied client for later tests


# ----------------------------------------------------------------------------- offline


def test_offline_uses_cache_and_sends_nothing(
    mirror: Mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    online = download_model(REPO_ID, progress=False)
    mirror.requests.clear()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert download_model(REPO_ID, progress=False) == online
    assert resolve_model(REPO_ID) == online
    assert mirror.requests == []


def test_offline_without_cache_is_a_clear_error(
    mirror: Mirror, monkeypatch: pytest.MonkeyPatch, hub_env: Path
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(
        HubError,
        match=rf"{REPO_ID} is not in the local cache \({hub_env}\) and HF_HUB_OFFLINE is set",
    ):
        download_model(REPO_ID, progress=False)
    assert mirror.requests == []


# ----------------------------------------------------------------------------- resolve_model


def test_resolve_existing_folder(tmp_path: Path, hub_env: Path) -> None:
    folder = write_model_folder(tmp_path / "my-model")
    assert resolve_model(str(folder)) == folder.resolve()
    assert is_model_folder(folder)


def test_resolve_rejects_incomplete_folder_and_files(tmp_path: Path, hub_env: Path) -> None:
    folder = tmp_path / "half"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    assert not is_model_folder(folder)
    with pytest.raises(
        ModelNotFoundError,
        match="not a model folder \\(missing model.safetensors or pytorch_model.bin\\)",
    ):
        resolve_model(str(folder))
    with pytest.raises(ModelNotFoundError, match="is a file"):
        resolve_model(str(folder / "config.json"))
    assert not is_model_folder(folder / "config.json")


def test_resolve_hub_id_from_cache_without_network(mirror: Mirror) -> None:
    downloaded = download_model(REPO_ID, progress=False)
    v1 = download_model(REPO_ID, revision="v1", progress=False)
    mirror.requests.clear()
    assert resolve_model(REPO_ID) == downloaded
    assert resolve_model(f"{REPO_ID}@v1") == v1
    assert mirror.requests == []  # resolve_model never talks to the Hub


def test_resolve_unknown_specs(mirror: Mirror, hub_env: Path) -> None:
    with pytest.raises(
        ModelNotFoundError, match=f"download it first with: tablescribe model download {REPO_ID}"
    ):
        resolve_model(REPO_ID)
    with pytest.raises(ModelNotFoundError, match="--revision v1"):
        resolve_model(f"{REPO_ID}@v1")
    with pytest.raises(ModelNotFoundError, match="not a hub id"):
        resolve_model("no-such-folder")
    assert mirror.requests == []


def test_environment_is_read_at_call_time(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "a"))
    assert hub.hub_cache_dir() == tmp_path / "a" / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "b"))
    assert hub.hub_cache_dir() == tmp_path / "b"
    monkeypatch.setenv("HF_ENDPOINT", "https://hf-mirror.example/")
    assert hub.hub_endpoint() == "https://hf-mirror.example"
    monkeypatch.delenv("HF_ENDPOINT")
    assert hub.hub_endpoint() == "https://huggingface.co"
    for value, expected in (("1", True), ("TRUE", True), ("0", False), ("", False)):
        monkeypatch.setenv("HF_HUB_OFFLINE", value)
        assert hub.is_offline() is expected


def test_without_the_hub_extra_download_and_hub_ids_say_what_to_install(tmp_path, monkeypatch,
                                                                         capsys):
    import sys

    from app import cli

    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import fails as if not installed
    with pytest.raises(HubError, match=r"cannot download microsoft/x: .*pip install 'tablescribe\[hub\]'"):
        download_model("microsoft/x", cache_dir=tmp_path)
    with pytest.raises(ModelNotFoundError, match=r"tablescribe\[hub\]"):
        resolve_model("microsoft/x")
    folder = tmp_path / "plain-folder"  # a model folder on disk needs no hub client
    with pytest.raises(ModelNotFoundError, match="not a model folder"):
        folder.mkdir() or resolve_model(str(folder))
    capsys.readouterr()
    assert cli.main(["model", "download", "microsoft/x"]) == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("tablescribe: cannot download microsoft/x: ") and "[hub]" in line
