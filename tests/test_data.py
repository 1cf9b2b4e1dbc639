"""Fashion-MNIST loading: IDX and Kaggle CSV readers, the search order, and the verified download.

Everything runs on tiny files written into tmp_path; downloads go over real HTTP to a server on
127.0.0.1 only. The tests that need the real data (Debian's dataset-fashion-mnist) skip without it.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import struct
import threading
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch

from visualstreams.data import fashion_mnist as data
from visualstreams.data.fashion_mnist import check_subset
from visualstreams.errors import DataError

REAL_DIR = Path("/usr/share/datasets/fashion-mnist")
N_TRAIN, N_TEST = 12, 5
TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS = data.IDX_FILES.values()


# -- helpers -------------------------------------------------------------------------------------------
def idx_bytes(arr: np.ndarray) -> bytes:
    """The IDX encoding of an unsigned-byte array: magic 0x00 0x00 0x08 ndim, big-endian dims, data."""
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    return bytes([0, 0, 8, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def md5(raw: bytes) -> str:
    return hashlib.md5(raw).hexdigest()


def small_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        TRAIN_IMAGES: rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
        TRAIN_LABELS: (np.arange(N_TRAIN) % 10).astype(np.uint8),
        TEST_IMAGES: rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
        TEST_LABELS: np.array([9, 0, 3, 5, 7], dtype=np.uint8),
    }


def write_idx_dir(directory: Path, arrays: dict[str, np.ndarray], gz: bool = True) -> dict[str, str]:
    """Write the four IDX files (canonical names); returns {canonical name: MD5 of the raw IDX bytes}."""
    directory.mkdir(parents=True, exist_ok=True)
    sums = {}
    for name, arr in arrays.items():
        raw = idx_bytes(arr)
        if gz:
            (directory / name).write_bytes(gzip.compress(raw, mtime=0))
        else:
            (directory / name.removesuffix(".gz")).write_bytes(raw)
        sums[name] = md5(raw)
    return sums


def write_csv(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    header = "label," + ",".join(f"pixel{i}" for i in range(1, 785))
    rows = [
        ",".join(map(str, [int(lab), *img.reshape(-1).tolist()]))
        for img, lab in zip(images, labels, strict=True)
    ]
    path.write_text("\n".join([header, *rows]) + "\n")


def write_csv_dir(directory: Path, arrays: dict[str, np.ndarray]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    write_csv(directory / data.CSV_FILES["train"], arrays[TRAIN_IMAGES], arrays[TRAIN_LABELS])
    write_csv(directory / data.CSV_FILES["test"], arrays[TEST_IMAGES], arrays[TEST_LABELS])


def assert_matches(ds: data.FashionMNIST, arrays: dict[str, np.ndarray]) -> None:
    for tensor, name, dtype in (
        (ds.train_images, TRAIN_IMAGES, torch.uint8),
        (ds.train_labels, TRAIN_LABELS, torch.int64),
        (ds.test_images, TEST_IMAGES, torch.uint8),
        (ds.test_labels, TEST_LABELS, torch.int64),
    ):
        assert tensor.dtype == dtype, name
        assert tuple(tensor.shape) == arrays[name].shape, name
        np.testing.assert_array_equal(tensor.numpy(), arrays[name].astype(tensor.numpy().dtype), err_msg=name)


def leftovers(directory: Path) -> list[str]:
    """Temporary download files (.part, dot-files) left in a directory."""
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".part") or p.name.startswith("."))


# -- fixtures ------------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """No test sees the user's environment, cache or system data, or reaches beyond loopback."""
    for var in ("VISUALSTREAMS_DATA", "VISUALSTREAMS_CACHE", "VISUALSTREAMS_DATA_URL"):
        monkeypatch.delenv(var, raising=False)
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setattr(data, "SYSTEM_DIRS", ())
    monkeypatch.setattr(data, "DEFAULT_URL", "http://127.0.0.1:9/")  # nothing listens: never the internet


@pytest.fixture
def arrays():
    return small_arrays()


@pytest.fixture
def idx_dir(tmp_path, arrays):
    """A directory with the four small gzipped IDX files; .sums holds their raw MD5s."""
    directory = tmp_path / "idx"
    sums = write_idx_dir(directory, arrays)
    return directory, sums


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a directory; records each request path on the server, logs nothing."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.requests.append(self.path.lstrip("/"))
        super().do_GET()


class TruncatingHandler(QuietHandler):
    """Sends one file's full Content-Length but only half its bytes, then closes the connection."""

    cut = TEST_IMAGES

    def do_GET(self):
        if self.path.lstrip("/") != self.cut:
            return super().do_GET()
        self.server.requests.append(self.cut)
        body = (Path(self.directory) / self.cut).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        self.close_connection = True


class ChunkCuttingHandler(TruncatingHandler):
    """Sends one file with chunked encoding and drops the connection inside the first chunk."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path.lstrip("/") != self.cut:
            return super().do_GET()
        self.server.requests.append(self.cut)
        body = (Path(self.directory) / self.cut).read_bytes()
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(b"%x\r\n" % len(body) + body[: len(body) // 2])
        self.wfile.flush()
        self.close_connection = True


@pytest.fixture
def serve():
    """serve(directory, handler=QuietHandler) -> (base URL, list of requested names); always shut down."""
    started = []

    def start(directory: Path, handler: type[QuietHandler] = QuietHandler):
        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(handler, directory=str(directory))
        )
        server.requests = []
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        started.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}/", server.requests

    yield start
    for server, thread in started:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# -- 1. IDX --------------------------------------------------------------------------------------------
def test_idx_gz_loads_exact_pixels_and_labels(idx_dir, arrays):
    directory, sums = idx_dir
    ds = data.load_fashion_mnist(directory)
    assert_matches(ds, arrays)
    assert ds.format == "idx"
    assert ds.source == str(directory)
    assert ds.checksums == sums  # MD5 of the decompressed bytes, keyed by file name
    assert all(md5((directory / n).read_bytes()) != s for n, s in sums.items())  # not of the .gz
    assert ds.info()["train"] == N_TRAIN and ds.info()["test"] == N_TEST


def test_uncompressed_idx_loads(tmp_path, arrays):
    sums = write_idx_dir(tmp_path, arrays, gz=False)
    assert not any(p.suffix == ".gz" for p in tmp_path.iterdir())
    ds = data.load_fashion_mnist(tmp_path)
    assert_matches(ds, arrays)
    assert ds.format == "idx"
    assert ds.checksums == {n.removesuffix(".gz"): s for n, s in sums.items()}


def test_read_idx_returns_array_and_raw_md5(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    raw = idx_bytes(arr)
    (tmp_path / "a.gz").write_bytes(gzip.compress(raw))
    got, digest = data.read_idx(tmp_path / "a.gz")
    np.testing.assert_array_equal(got, arr)
    assert digest == md5(raw)


# -- 2. broken IDX -------------------------------------------------------------------------------------
def _truncated_gzip(arrays, name):
    gz = gzip.compress(idx_bytes(arrays[name]))
    return gz[: len(gz) // 2]


def _gz(raw: bytes) -> bytes:
    return gzip.compress(raw)


BROKEN_IDX = {
    # case: (file to replace, bytes of the replacement given the arrays, what the message must say)
    "truncated-gzip": (TRAIN_IMAGES, lambda a: _truncated_gzip(a, TRAIN_IMAGES), "truncated or corrupt gzip"),
    "truncated-payload": (TRAIN_IMAGES, lambda a: _gz(idx_bytes(a[TRAIN_IMAGES])[:-100]), "truncated"),
    "trailing-bytes": (TEST_LABELS, lambda a: _gz(idx_bytes(a[TEST_LABELS]) + b"\0"), "trailing bytes"),
    "truncated-header": (TEST_IMAGES, lambda a: _gz(idx_bytes(a[TEST_IMAGES])[:9]), "truncated IDX header"),
    "bad-magic": (TRAIN_LABELS, lambda a: _gz(b"\0\0\x09" + idx_bytes(a[TRAIN_LABELS])[3:]), "bad magic"),
    "not-idx": (TEST_IMAGES, lambda a: b"<html>Not Found</html>", "bad magic"),
}


@pytest.mark.parametrize("case", BROKEN_IDX)
def test_broken_idx_file_is_a_data_error_naming_the_file(idx_dir, arrays, case):
    directory, _ = idx_dir
    name, make, words = BROKEN_IDX[case]
    (directory / name).write_bytes(make(arrays))
    with pytest.raises(DataError, match=words) as info:
        data.load_fashion_mnist(directory)
    assert name in str(info.value)


def test_label_out_of_range_is_a_data_error(tmp_path, arrays):
    arrays[TRAIN_LABELS][3] = 10
    write_idx_dir(tmp_path, arrays)
    with pytest.raises(DataError, match="label 10") as info:
        data.load_fashion_mnist(tmp_path)
    assert TRAIN_LABELS in str(info.value)


def test_image_label_count_mismatch_is_a_data_error(tmp_path, arrays):
    arrays[TEST_LABELS] = arrays[TEST_LABELS][:-1]
    write_idx_dir(tmp_path, arrays)
    with pytest.raises(DataError, match=f"test has {N_TEST} images but {N_TEST - 1} labels"):
        data.load_fashion_mnist(tmp_path)


def test_images_that_are_not_three_dimensional_are_a_data_error(tmp_path, arrays):
    arrays[TRAIN_IMAGES] = arrays[TRAIN_IMAGES].reshape(N_TRAIN, 28 * 28)
    write_idx_dir(tmp_path, arrays)
    with pytest.raises(DataError, match="N x H x W"):
        data.load_fashion_mnist(tmp_path)


def test_missing_idx_file_is_a_data_error(idx_dir):
    directory, _ = idx_dir
    (directory / TEST_LABELS).unlink()
    with pytest.raises(DataError, match="missing") as info:
        data.load_idx_dir(directory)
    assert TEST_LABELS in str(info.value)


# -- 3. Kaggle CSV -------------------------------------------------------------------------------------
@pytest.fixture
def csv_dir(tmp_path, arrays):
    directory = tmp_path / "csv"
    write_csv_dir(directory, arrays)
    return directory


def test_csv_pair_loads_same_values(csv_dir, arrays):
    ds = data.load_fashion_mnist(csv_dir)
    assert_matches(ds, arrays)
    assert ds.format == "csv"
    assert ds.checksums == {n: md5((csv_dir / n).read_bytes()) for n in data.CSV_FILES.values()}


def test_csv_and_idx_give_the_same_dataset(csv_dir, idx_dir):
    a, b = data.load_fashion_mnist(csv_dir), data.load_fashion_mnist(idx_dir[0])
    for field in ("train_images", "train_labels", "test_images", "test_labels"):
        assert torch.equal(getattr(a, field), getattr(b, field)), field


def test_csv_file_path_means_its_directory(csv_dir):
    assert data.find_data(csv_dir / data.CSV_FILES["test"]) == csv_dir


def test_truncated_csv_is_a_data_error_naming_the_file(csv_dir):
    path = csv_dir / data.CSV_FILES["train"]
    text = path.read_text().rstrip("\n")
    head, last = text.rsplit("\n", 1)
    path.write_text(head + "\n" + last[: len(last) // 2])  # last line cut in the middle, no newline
    with pytest.raises(DataError, match="truncated") as info:
        data.load_fashion_mnist(csv_dir)
    assert data.CSV_FILES["train"] in str(info.value)
    assert f"line {N_TRAIN + 1}" in str(info.value)  # header is line 1, so the last row is line N+1


def _wrong_columns(path: Path, arrays) -> None:
    header = "label," + ",".join(f"pixel{i}" for i in range(1, 10))
    path.write_text(header + "\n" + "\n".join(",".join(["1"] * 10) for _ in range(3)) + "\n")


def _extra_field(path: Path, arrays) -> None:
    lines = path.read_text().splitlines()
    lines[2] += ",7"
    path.write_text("\n".join(lines) + "\n")


BROKEN_CSV = {
    "wrong-column-count": (_wrong_columns, "784 pixel columns"),
    "row-with-extra-field": (_extra_field, "not a Fashion-MNIST CSV"),
    "empty": (lambda p, a: p.write_bytes(b""), "empty file"),
    "blank": (lambda p, a: p.write_text("\n \n"), "empty file"),
    "header-only": (lambda p, a: p.write_text(p.read_text().splitlines()[0] + "\n"), "malformed"),
    "non-numeric": (lambda p, a: p.write_text(p.read_text().replace("\n3,", "\nx,", 1)), "malformed"),
    "label-out-of-range": (lambda p, a: p.write_text(p.read_text().replace("\n3,", "\n11,", 1)), "label 11"),
}


@pytest.mark.parametrize("case", BROKEN_CSV)
def test_broken_csv_is_a_data_error_naming_the_file(csv_dir, arrays, case):
    path = csv_dir / data.CSV_FILES["test"]
    make, words = BROKEN_CSV[case]
    make(path, arrays)
    with pytest.raises(DataError, match=words) as info:
        data.load_csv_dir(csv_dir)
    assert path.name in str(info.value)


def test_csv_pixel_out_of_range_is_a_data_error(csv_dir):
    path = csv_dir / data.CSV_FILES["test"]
    lines = path.read_text().splitlines()
    fields = lines[1].split(",")
    fields[5] = "256"
    lines[1] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="0..255"):
        data.load_csv_dir(csv_dir)


# -- 4. search order -----------------------------------------------------------------------------------
def test_find_data_search_order(tmp_path, monkeypatch, arrays):
    env_dir, cache, system = tmp_path / "env", tmp_path / "cache", tmp_path / "system"
    write_idx_dir(env_dir, arrays)
    write_csv_dir(cache, arrays)  # the cache may hold either format
    write_idx_dir(system, arrays)
    monkeypatch.setenv("VISUALSTREAMS_DATA", str(env_dir))
    monkeypatch.setenv("VISUALSTREAMS_CACHE", str(cache))
    monkeypatch.setattr(data, "SYSTEM_DIRS", (tmp_path / "absent", system))
    assert data.candidate_dirs() == [env_dir, cache, tmp_path / "absent", system]

    assert data.find_data(download=False) == env_dir  # the environment wins over the cache ...
    monkeypatch.delenv("VISUALSTREAMS_DATA")
    assert data.find_data(download=False) == cache  # ... which wins over the system directory
    assert data.load_fashion_mnist(download=False).format == "csv"
    monkeypatch.setenv("VISUALSTREAMS_DATA", str(tmp_path / "empty"))  # set but empty: skipped
    (tmp_path / "empty").mkdir()
    for f in cache.iterdir():
        f.unlink()
    assert data.find_data(download=False) == system
    ds = data.load_fashion_mnist(download=False)
    assert ds.source == str(system) and ds.format == "idx"


def test_incomplete_directory_is_skipped(tmp_path, monkeypatch, arrays):
    env_dir, system = tmp_path / "env", tmp_path / "system"
    write_idx_dir(env_dir, arrays)
    (env_dir / TEST_IMAGES).unlink()  # three of four files: not a dataset
    write_idx_dir(system, arrays)
    monkeypatch.setenv("VISUALSTREAMS_DATA", str(env_dir))
    monkeypatch.setattr(data, "SYSTEM_DIRS", (system,))
    assert data.find_data(download=False) == system


def test_cache_dir_defaults(tmp_path, monkeypatch):
    assert data.cache_dir() == tmp_path / "xdg-cache" / "visualstreams" / "fashion-mnist"
    monkeypatch.setenv("VISUALSTREAMS_CACHE", str(tmp_path / "c"))
    assert data.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("VISUALSTREAMS_CACHE")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert data.cache_dir() == Path.home() / ".cache" / "visualstreams" / "fashion-mnist"


def test_nothing_found_without_download_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("VISUALSTREAMS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "SYSTEM_DIRS", (tmp_path / "system",))
    with pytest.raises(DataError) as info:
        data.find_data(download=False)
    message = str(info.value)
    assert "apt-get install dataset-fashion-mnist" in message and "--data" in message
    assert not (tmp_path / "cache").exists()  # looking does not create the cache


def test_explicit_path_errors(tmp_path):
    with pytest.raises(DataError, match="no such directory"):
        data.find_data(tmp_path / "nope")
    with pytest.raises(DataError, match="neither the four Fashion-MNIST IDX files"):
        data.find_data(tmp_path)
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(DataError, match="takes a directory"):
        data.find_data(tmp_path / "x.txt")


# -- 5./6. download over loopback HTTP -----------------------------------------------------------------
def test_download_verifies_and_loads(idx_dir, arrays, serve, tmp_path):
    source, sums = idx_dir
    url, requests = serve(source)
    cache = tmp_path / "cache" / "deep"
    assert data.download_fashion_mnist(cache, url=url, checksums=sums) == cache
    assert sorted(requests) == sorted(data.IDX_FILES.values())
    for name in data.IDX_FILES.values():
        assert (cache / name).read_bytes() == (source / name).read_bytes()
    assert leftovers(cache) == []
    ds = data.load_fashion_mnist(cache)
    assert_matches(ds, arrays)
    assert ds.checksums == sums


@pytest.mark.parametrize("bad", list(data.IDX_FILES.values()))
def test_checksum_mismatch_leaves_no_file(idx_dir, serve, tmp_path, bad):
    source, sums = idx_dir
    url, _ = serve(source)
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match="checksum mismatch") as info:
        data.download_fashion_mnist(cache, url=url, checksums={**sums, bad: "0" * 32})
    assert bad in str(info.value)
    assert not (cache / bad).exists()
    assert leftovers(cache) == []
    for f in cache.iterdir():  # files fetched before the bad one are complete and verified
        assert data._raw_md5(f) == sums[f.name]


@pytest.mark.parametrize("missing", list(data.IDX_FILES.values()))
def test_http_404_leaves_nothing_half_written(idx_dir, serve, tmp_path, missing):
    source, sums = idx_dir
    (source / missing).unlink()
    url, _ = serve(source)
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match="download failed") as info:
        data.download_fashion_mnist(cache, url=url, checksums=sums)
    message = str(info.value)
    assert missing in message and "not found" in message.lower()
    assert "apt-get" in message  # says how else to get the data
    http_error = info.value.__context__  # the HTTPError behind it holds the response and its socket ...
    assert isinstance(http_error, urllib.error.HTTPError) and http_error.code == 404
    assert http_error.fp.closed  # ... which must be closed, not left open until garbage collection
    assert not (cache / missing).exists()
    assert leftovers(cache) == []
    for f in cache.iterdir():
        assert data._raw_md5(f) == sums[f.name]


@pytest.mark.parametrize("handler", [TruncatingHandler, ChunkCuttingHandler])
@pytest.mark.parametrize("with_checksum", [True, False])
def test_interrupted_download_is_a_data_error_and_leaves_no_file(idx_dir, serve, tmp_path, handler,
                                                                 with_checksum):
    source, sums = idx_dir
    url, _ = serve(source, handler)
    cache = tmp_path / "cache"
    checksums = sums if with_checksum else {n: s for n, s in sums.items() if n != handler.cut}
    with pytest.raises(DataError) as info:
        data.download_fashion_mnist(cache, url=url, checksums=checksums)
    assert handler.cut in str(info.value)
    assert not (cache / handler.cut).exists()
    assert leftovers(cache) == []


def test_connection_refused_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="download failed"):
        data.download_fashion_mnist(tmp_path / "cache", url="http://127.0.0.1:9/", timeout=5)
    assert leftovers(tmp_path / "cache") == []


def test_find_data_downloads_into_the_cache(idx_dir, arrays, serve, tmp_path, monkeypatch):
    source, sums = idx_dir
    url, requests = serve(source)
    cache = tmp_path / "cache"
    monkeypatch.setenv("VISUALSTREAMS_CACHE", str(cache))
    monkeypatch.setenv("VISUALSTREAMS_DATA_URL", url)
    monkeypatch.setattr(data, "RAW_MD5", sums)  # the default checksums, for the small files
    with pytest.raises(DataError):
        data.find_data(download=False)
    assert requests == []
    assert data.find_data() == cache
    assert len(requests) == 4
    assert_matches(data.load_fashion_mnist(), arrays)
    assert len(requests) == 4  # found in the cache the second time


def test_verified_files_are_not_downloaded_again(idx_dir, serve, tmp_path):
    source, sums = idx_dir
    url, requests = serve(source)
    cache = tmp_path / "cache"
    data.download_fashion_mnist(cache, url=url, checksums=sums)
    assert len(requests) == 4
    data.download_fashion_mnist(cache, url=url, checksums=sums)
    assert len(requests) == 4  # all four kept

    (cache / TRAIN_LABELS).unlink()
    (cache / TEST_IMAGES).write_bytes((cache / TEST_IMAGES).read_bytes()[:50])  # truncated in the cache
    data.download_fashion_mnist(cache, url=url, checksums=sums)
    assert sorted(requests[4:]) == sorted([TRAIN_LABELS, TEST_IMAGES])
    assert (cache / TEST_IMAGES).read_bytes() == (source / TEST_IMAGES).read_bytes()


def test_recompressed_file_with_same_data_is_kept(idx_dir, arrays, serve, tmp_path):
    """Verification is of the decompressed bytes, so a recompressed (e.g. Debian) .gz counts as verified."""
    source, sums = idx_dir
    url, requests = serve(source)
    cache = tmp_path / "cache"
    write_idx_dir(cache, arrays, gz=False)
    for name in data.IDX_FILES.values():  # same data, other compression level: other .gz bytes
        raw = (cache / name.removesuffix(".gz")).read_bytes()
        (cache / name).write_bytes(gzip.compress(raw, compresslevel=1, mtime=12345))
        assert (cache / name).read_bytes() != (source / name).read_bytes()
    data.download_fashion_mnist(cache, url=url, checksums=sums)
    assert requests == []


def test_corrupt_cached_file_without_a_checksum_is_fetched_again(idx_dir, serve, tmp_path):
    source, sums = idx_dir
    url, requests = serve(source)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / TEST_IMAGES).write_bytes(gzip.compress(b"x" * 1000)[:20])  # not valid gzip
    data.download_fashion_mnist(cache, url=url, checksums={n: s for n, s in sums.items() if n != TEST_IMAGES})
    assert TEST_IMAGES in requests
    assert (cache / TEST_IMAGES).read_bytes() == (source / TEST_IMAGES).read_bytes()


# -- 7./8. the real data -------------------------------------------------------------------------------
needs_real_data = pytest.mark.skipif(
    not all((REAL_DIR / n).is_file() for n in data.IDX_FILES.values()),
    reason=f"{REAL_DIR} not installed (apt-get install dataset-fashion-mnist)",
)


@pytest.mark.slow
@needs_real_data
def test_download_of_debian_files_verifies_with_canonical_checksums(serve, tmp_path):
    url, requests = serve(REAL_DIR)
    cache = tmp_path / "cache"
    data.download_fashion_mnist(cache, url=url)  # default checksums: RAW_MD5
    assert sorted(requests) == sorted(data.IDX_FILES.values())
    assert leftovers(cache) == []
    ds = data.load_fashion_mnist(cache)
    assert (len(ds.train_labels), len(ds.test_labels)) == (60000, 10000)
    assert tuple(ds.train_images.shape) == (60000, 28, 28) and tuple(ds.test_images.shape) == (10000, 28, 28)
    assert ds.checksums == data.RAW_MD5
    assert torch.bincount(ds.train_labels).tolist() == [6000] * 10
    assert torch.bincount(ds.test_labels).tolist() == [1000] * 10


@needs_real_data
def test_real_data_has_canonical_checksums():
    ds = data.load_fashion_mnist(REAL_DIR)
    assert ds.checksums == data.RAW_MD5
    assert set(ds.checksums.values()) == set(data.RAW_MD5.values())
    assert (len(ds.train_labels), len(ds.test_labels)) == (60000, 10000)


def test_full_size_file_with_altered_data_is_corrupt(tmp_path, monkeypatch, arrays):
    """At the canonical size, data whose MD5 is not the release's are rejected.

    CANONICAL_SIZES (and RAW_MD5) are shrunk to the small fixture's, so the check runs on tiny files.
    """
    good = tmp_path / "good"
    sums = write_idx_dir(good, arrays)
    monkeypatch.setattr(data, "CANONICAL_SIZES", {"train": N_TRAIN, "test": N_TEST})
    monkeypatch.setattr(data, "RAW_MD5", sums)
    assert_matches(data.load_fashion_mnist(good), arrays)  # the "release" itself passes

    altered = {k: v.copy() for k, v in arrays.items()}
    altered[TRAIN_IMAGES][4, 10, 10] ^= 0xFF  # one pixel: still a perfectly valid IDX file
    bad = tmp_path / "bad"
    write_idx_dir(bad, altered)
    with pytest.raises(DataError, match="corrupt") as info:
        data.load_fashion_mnist(bad)
    assert TRAIN_IMAGES in str(info.value)

    # not at the canonical size: altered data are simply other data, no MD5 check
    monkeypatch.setattr(data, "CANONICAL_SIZES", {"train": 60000, "test": 10000})
    assert_matches(data.load_fashion_mnist(bad), altered)


def test_canonical_sizes_with_other_data_are_corrupt(tmp_path, monkeypatch, arrays):
    write_idx_dir(tmp_path, arrays)
    monkeypatch.setattr(data, "CANONICAL_SIZES", {"train": N_TRAIN, "test": N_TEST})
    with pytest.raises(DataError, match="corrupt.*is not the release's"):
        data.load_fashion_mnist(tmp_path)  # real RAW_MD5, small data


# -- 9. subset -----------------------------------------------------------------------------------------
@pytest.fixture
def dataset():
    n = 50
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1).expand(n, 28, 28).clone()  # pixel = index
    labels = torch.arange(n) % 10
    return data.FashionMNIST(images, labels, images[:7].clone(), labels[:7].clone(), source="s", format="idx",
                             checksums={"a": "b"})


def test_subset_is_deterministic_per_seed(dataset):
    a, b = dataset.subset(10, seed=1), dataset.subset(10, seed=1)
    assert torch.equal(a.train_images, b.train_images) and torch.equal(a.train_labels, b.train_labels)
    idx = a.train_images[:, 0, 0].long()
    assert len(idx) == 10 and len(set(idx.tolist())) == 10  # distinct items ...
    assert torch.equal(idx, idx.sort().values)  # ... in their original order
    assert torch.equal(a.train_labels, dataset.train_labels[idx])  # images and labels stay paired
    c = dataset.subset(10, seed=2)
    assert not torch.equal(c.train_images, a.train_images)


def test_subset_keeps_test_set_and_metadata(dataset):
    s = dataset.subset(5, seed=3)
    assert len(s.train_labels) == 5
    assert torch.equal(s.test_images, dataset.test_images) and torch.equal(s.test_labels, dataset.test_labels)
    assert (s.source, s.format, s.checksums, s.classes) == ("s", "idx", {"a": "b"}, data.CLASSES)


def test_subset_whole_or_none_is_the_dataset(dataset):
    assert dataset.subset(None) is dataset
    assert dataset.subset(50) is dataset and dataset.subset(1000) is dataset  # a resumed run trains as it did
    assert len(dataset.subset(1).train_labels) == 1
    with pytest.raises(DataError, match="train subset of 1,000 images asked for, but the training set has 50"):
        check_subset(50, 1000)  # what a new run asking for more than the set is told, before it starts
    check_subset(50, 50)


@pytest.mark.parametrize("n", [0, -1])
def test_subset_rejects_less_than_one(dataset, n):
    with pytest.raises(DataError, match="at least 1"):
        dataset.subset(n)
