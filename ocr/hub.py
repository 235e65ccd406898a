"""Model folders from the Hugging Face Hub (or a mirror) and resolving ``--model`` specs.

Downloads go through ``huggingface_hub.snapshot_download`` into the standard cache
(``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``), so a
model fetched here is shared with every other Hugging Face tool on the machine.

The environment is read at call time, not at import time (huggingface_hub itself
reads it once, when first imported):

* ``HF_ENDPOINT`` -- a mirror such as ``https://hf-mirror.com``;
* ``HTTP_PROXY`` / ``HTTPS_PROXY`` / ``ALL_PROXY`` / ``NO_PROXY`` -- honoured by the
  HTTP client; its shared session is rebuilt when they change;
* ``HF_HUB_OFFLINE=1`` -- nothing is sent; only the cache is consulted;
* ``HF_TOKEN`` -- for private or gated models (huggingface_hub reads it).

``resolve_model`` never uses the network: a ``--model`` value is a folder on disk or
a hub id that is already in the cache.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = [
    "HubError",
    "ModelNotFoundError",
    "download_model",
    "hub_cache_dir",
    "hub_endpoint",
    "is_model_folder",
    "is_offline",
    "resolve_model",
]

DEFAULT_ENDPOINT = "https://huggingface.co"
CONFIG_FILE = "config.json"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")  # in order of preference
# Everything else a TrOCR folder may need: configs and tokenizer files. Other weight
# formats (TensorFlow, Flax, ONNX, sharded checkpoints) are never downloaded.
SUPPORT_PATTERNS = [
    "config.json",
    "generation_config.json",
    "preprocessor_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "merges.txt",
    "sentencepiece.bpe.model",
]

# owner/name, as the Hub spells repo ids (names: letters, digits, - _ .), optional @revision.
_HUB_ID = re.compile(r"^(?P<repo>[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96})(?:@(?P<rev>[\w./-]+))?$")
_TRUE = {"1", "on", "yes", "true"}
_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


class HubError(RuntimeError):
    """A model could not be downloaded or found; the message says why and what to do."""


class ModelNotFoundError(HubError):
    """A --model spec is neither a model folder nor a hub id in the local cache."""


# Only model downloads need huggingface_hub (and its HTTP stack): an optional extra.
HUB_EXTRA_HINT = "pip install 'tablescribe[hub]'"


def _require_hub(what: str, error: type[HubError] = HubError) -> None:
    try:
        import huggingface_hub  # noqa: F401
    except ImportError as e:
        raise error(f"{what}: the Hugging Face Hub client (huggingface_hub) is not installed; "
                    f"it is needed only for models from the Hub: {HUB_EXTRA_HINT}") from e


# --------------------------------------------------------------------------- environment


def hub_endpoint() -> str:
    """The Hub URL to talk to: ``$HF_ENDPOINT`` (a mirror) or huggingface.co."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def hub_cache_dir() -> Path:
    """The standard huggingface_hub cache folder, from the environment as it is now."""
    explicit = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if explicit:
        return Path(os.path.expandvars(explicit)).expanduser()
    home = os.environ.get("HF_HOME")
    if not home:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        home = os.path.join(xdg, "huggingface")
    return Path(os.path.expandvars(home)).expanduser() / "hub"


def is_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` is set to 1/on/yes/true."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


_session_proxies: tuple[str | None, ...] | None = None


def _refresh_session_for_proxies() -> None:
    """Rebuild huggingface_hub's shared HTTP client if the proxy variables changed.

    The client reads the proxy variables once, when it is created; a long-lived
    process (the GUI) whose environment changed would otherwise keep the old route.
    """
    global _session_proxies
    from huggingface_hub import close_session

    current = tuple(os.environ.get(name) or os.environ.get(name.lower()) for name in _PROXY_VARS)
    if current != _session_proxies:
        close_session()
        _session_proxies = current


# --------------------------------------------------------------------------- folders


def is_model_folder(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a folder with ``config.json`` and a weights file we can read."""
    folder = Path(path)
    return (
        folder.is_dir()
        and (folder / CONFIG_FILE).is_file()
        and any((folder / name).is_file() for name in WEIGHT_FILES)
    )


def _missing_parts(folder: Path) -> str:
    missing = [] if (folder / CONFIG_FILE).is_file() else [CONFIG_FILE]
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        missing.append(" or ".join(WEIGHT_FILES))
    return ", ".join(missing)


# --------------------------------------------------------------------------- download


def _silent_tqdm():
    from tqdm.auto import tqdm

    class SilentTqdm(tqdm):  # huggingface_hub builds all its bars from this class
        def __init__(self, *args, **kwargs):
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

    return SilentTqdm


def _weights_to_fetch(repo_files: list[str], repo_id: str, endpoint: str) -> str:
    for name in WEIGHT_FILES:
        if name in repo_files:
            return name
    raise HubError(
        f"{repo_id} on {endpoint} has no {' or '.join(WEIGHT_FILES)}; it is not a model "
        "tablescribe can run (sharded or TensorFlow/Flax-only checkpoints are not supported)"
    )


def download_model(
    repo_id: str,
    revision: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> Path:
    """Download a model folder from the Hub (or ``$HF_ENDPOINT``) into the cache.

    Fetches ``config.json``, the tokenizer/preprocessor files and one weights file
    (``model.safetensors``, else ``pytorch_model.bin``), and returns the snapshot folder,
    ready for ``TrOCRModel.from_pretrained``. Files already in the cache are not fetched
    again. With ``HF_HUB_OFFLINE=1`` nothing is sent and the cached snapshot is
    returned, or HubError says it is missing. ``revision`` is a branch, tag or commit
    (default: the repo's main branch). Raises HubError with a one-line reason.
    """
    _require_hub(f"cannot download {repo_id}")
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        HFValidationError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    endpoint = hub_endpoint()
    cache = Path(cache_dir).expanduser() if cache_dir is not None else hub_cache_dir()
    where = f"{repo_id}" + (f" (revision {revision})" if revision else "")
    if is_offline():
        try:
            folder = _cached_snapshot(repo_id, revision, cache)
        except (LocalEntryNotFoundError, HFValidationError, OSError) as e:
            raise HubError(
                f"{where} is not in the local cache ({cache}) and HF_HUB_OFFLINE is set; "
                f"unset it to download ({type(e).__name__})"
            ) from e
        return _checked_folder(folder, where)

    _refresh_session_for_proxies()
    tqdm_class = None if progress else _silent_tqdm()
    try:
        info = HfApi(endpoint=endpoint).model_info(repo_id, revision=revision)
        repo_files = [s.rfilename for s in (info.siblings or [])]
        weights = _weights_to_fetch(repo_files, repo_id, endpoint)
        folder = Path(
            snapshot_download(
                repo_id,
                revision=revision,
                cache_dir=cache,
                endpoint=endpoint,
                allow_patterns=[*SUPPORT_PATTERNS, weights],
                tqdm_class=tqdm_class,
            )
        )
    except HFValidationError as e:
        raise HubError(f"{repo_id!r} is not a valid model id (expected owner/name): {e}") from e
    except RevisionNotFoundError as e:
        raise HubError(f"revision {revision!r} of {repo_id} not found on {endpoint}") from e
    except GatedRepoError as e:
        raise HubError(
            f"{repo_id} on {endpoint} is gated: accept its terms on the Hub and set HF_TOKEN"
        ) from e
    except RepositoryNotFoundError as e:
        raise HubError(
            f"model {repo_id} not found on {endpoint} (check the id; private models need HF_TOKEN)"
        ) from e
    except OfflineModeIsEnabled as e:
        raise HubError(f"cannot download {where}: huggingface_hub is in offline mode ({e})") from e
    except LocalEntryNotFoundError as e:
        raise HubError(
            f"cannot reach {endpoint} to download {where}, and it is not in the cache ({cache}); "
            "check the network, HF_ENDPOINT and the proxy variables"
        ) from e
    except HfHubHTTPError as e:
        status = getattr(getattr(e, "response", None), "status_code", "?")
        raise HubError(f"downloading {where} from {endpoint} failed (HTTP {status})") from e
    except Exception as e:
        # Connection, proxy and TLS errors surface as httpx2 exceptions of many kinds.
        if type(e).__module__.split(".")[0] in ("httpx2", "httpx", "httpcore", "ssl"):
            raise HubError(
                f"cannot reach {endpoint} to download {where}: {type(e).__name__}: {e}; "
                "check the network, HF_ENDPOINT and the proxy variables"
            ) from e
        raise
    return _checked_folder(folder, where)


def _cached_snapshot(repo_id: str, revision: str | None, cache: Path) -> Path:
    """The cached snapshot folder of a repo, without any network call.

    The completeness check of huggingface_hub is limited to the support files: only
    one of the weight files was downloaded, which is_model_folder checks afterwards.
    """
    from huggingface_hub import snapshot_download

    return Path(
        snapshot_download(
            repo_id,
            revision=revision,
            cache_dir=cache,
            local_files_only=True,
            allow_patterns=SUPPORT_PATTERNS,
        )
    )


def _checked_folder(folder: Path, what: str) -> Path:
    if not is_model_folder(folder):
        raise HubError(
            f"{what}: the downloaded folder {folder} is not a model folder "
            f"(missing {_missing_parts(folder)})"
        )
    return folder


# --------------------------------------------------------------------------- --model


def parse_hub_id(spec: str) -> tuple[str, str | None] | None:
    """``"owner/name"`` or ``"owner/name@revision"`` -> (repo_id, revision); else None."""
    match = _HUB_ID.match(spec)
    if match is None or ".." in match["repo"]:
        return None
    return match["repo"], match["rev"]


def resolve_model(spec: str) -> Path:
    """A ``--model`` value -> a model folder on disk, without touching the network.

    ``spec`` is an existing folder (it wins over a hub id of the same spelling), or a
    hub id ``owner/name[@revision]`` that was downloaded before (``tablescribe model
    download``) and is looked up in the cache. Raises ModelNotFoundError otherwise.
    """
    path = Path(spec).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelNotFoundError(f"{spec}: is a file; --model expects a model folder or hub id")
        if not is_model_folder(path):
            raise ModelNotFoundError(f"{spec}: not a model folder (missing {_missing_parts(path)})")
        return path.resolve()
    parsed = parse_hub_id(spec)
    if parsed is None:
        raise ModelNotFoundError(
            f"{spec}: no such folder, and not a hub id (expected owner/name, e.g. "
            "microsoft/trocr-small-printed)"
        )
    repo_id, revision = parsed
    _require_hub(f"{spec}: no such folder, and a hub id", ModelNotFoundError)
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    cache = hub_cache_dir()
    try:
        folder = _cached_snapshot(repo_id, revision, cache)
    except (LocalEntryNotFoundError, HFValidationError, OSError) as e:
        download = f"tablescribe model download {repo_id}" + (
            f" --revision {revision}" if revision else ""
        )
        raise ModelNotFoundError(
            f"{spec}: no such folder, and not in the local model cache ({cache}); "
            f"download it first with: {download}"
        ) from e
    if not is_model_folder(folder):
        raise ModelNotFoundError(
            f"{spec}: the cached copy {folder} is not a model folder (missing "
            f"{_missing_parts(folder)}); download it again with: tablescribe model download {repo_id}"
        )
    return folder
