"""NumPy .npz archives (``np.savez`` / ``np.savez_compressed``), read without pickle."""

from __future__ import annotations

import os
import zipfile

import numpy as np

from .dtypes import RawTensor, name_of_numpy
from .errors import WeightFormatError


def read_npz(path: str | os.PathLike[str]) -> dict[str, RawTensor]:
    """Every array of an .npz file by name, in its own element type.

    ``allow_pickle=False``: an archive holding object arrays (which would need pickle)
    is refused rather than unpickled.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise WeightFormatError(path, "no such file")
    if not zipfile.is_zipfile(path):
        raise WeightFormatError(path, "not an .npz archive (not a zip file)")
    result: dict[str, RawTensor] = {}
    try:
        with np.load(path, allow_pickle=False) as archive:
            for name in archive.files:
                try:
                    array = archive[name]
                except (ValueError, EOFError, OSError, zipfile.BadZipFile) as e:
                    # Object arrays land here too: "Object arrays cannot be loaded when
                    # allow_pickle=False" -- we never unpickle them.
                    raise WeightFormatError(path, f"array {name!r} cannot be read: {e}") from e
                dtype = name_of_numpy(array.dtype)
                if dtype is None:
                    raise WeightFormatError(
                        path, f"array {name!r} has dtype {array.dtype}, which is not a numeric type"
                    )
                if not array.dtype.isnative:
                    array = array.astype(array.dtype.newbyteorder("="))
                result[name] = RawTensor(array, dtype)
    except WeightFormatError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise WeightFormatError(path, f"corrupt .npz archive: {e}") from e
    return result
