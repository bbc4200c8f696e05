"""ie-explore fetch-data, offline: a loopback HTTP server (with Range requests) serves miniature archives of the
real layouts (tiny-imagenet-200.zip; cifar-10-python.tar.gz with its pickled batches), and the project's readers
read what the fetch makes."""
from __future__ import annotations

import hashlib
import io
import json
import pickle
import re
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ie_env import paths
from ie_env.data.fetch import FetchConfig, FetchError, fetch_data
from ie_env.data.shards import iter_shards, shard_files
from ie_env.paths import DataMissingError, data_dir
from tests.conftest import jpeg

TINY = {"n02123045": "tabby, tabby cat", "n04285008": "sports car, sport car",
        "n02099601": "golden retriever"}
TRAIN_PER_CLASS, VAL_PER_CLASS = 4, 32  # the tiny-imagenet target keeps 30 for training
CIFAR_LABELS = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _grey_jpeg(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (64, 64), dtype=np.uint8), "L").save(buf, "JPEG")
    return buf.getvalue()


def tiny_zip() -> bytes:
    """tiny-imagenet-200.zip in miniature: wnids.txt, words.txt, train/<wnid>/{images/*.JPEG, *_boxes.txt},
    val/{images/val_<i>.JPEG, val_annotations.txt}, test/images/test_<i>.JPEG (one train image greyscale)."""
    buf = io.BytesIO()
    top = "tiny-imagenet-200/"
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(top, "")
        z.writestr(top + "wnids.txt", "".join(f"{w}\n" for w in TINY))
        words = {**TINY, "n00001740": "entity", "n01443537": "goldfish, Carassius auratus"}
        z.writestr(top + "words.txt", "".join(f"{w}\t{n}\n" for w, n in sorted(words.items())))
        for c, wnid in enumerate(TINY):
            z.writestr(f"{top}train/{wnid}/{wnid}_boxes.txt",
                       "".join(f"{wnid}_{i}.JPEG\t0\t0\t63\t63\n" for i in range(TRAIN_PER_CLASS)))
            for i in range(TRAIN_PER_CLASS):
                data = _grey_jpeg(c) if (c, i) == (0, 1) else jpeg(100 * c + i)
                z.writestr(f"{top}train/{wnid}/images/{wnid}_{i}.JPEG", data)
        lines = []
        for i in range(VAL_PER_CLASS * len(TINY)):
            wnid = list(TINY)[i % len(TINY)]
            z.writestr(f"{top}val/images/val_{i}.JPEG", jpeg(5000 + i))
            lines.append(f"val_{i}.JPEG\t{wnid}\t0\t0\t63\t63\n")
        z.writestr(top + "val/val_annotations.txt", "".join(lines))
        for i in range(2):
            z.writestr(f"{top}test/images/test_{i}.JPEG", jpeg(9000 + i))
    return buf.getvalue()


def cifar_tar() -> tuple[bytes, dict]:
    """cifar-10-python.tar.gz in miniature (one image per class in each train batch, two in the test batch):
    protocol-2 pickles of dicts with bytes keys and numpy arrays, their
    classes referred to as ``numpy.core.multiarray`` as in the published (Python 2) batches."""
    rng = np.random.default_rng(0)
    arrays = {}

    def batch(n_per_class, name):
        labels = [y for _ in range(n_per_class) for y in range(10)]
        data = rng.integers(0, 255, (len(labels), 3072), dtype=np.uint8)
        arrays[name] = (data, labels)
        obj = {b"batch_label": name.encode(), b"labels": labels, b"data": data,
               b"filenames": [f"img_{i}.png".encode() for i in range(len(labels))]}
        return pickle.dumps(obj, protocol=2).replace(b"numpy._core.multiarray", b"numpy.core.multiarray")

    files = {f"data_batch_{i}": batch(1, f"data_batch_{i}") for i in range(1, 6)}
    files["test_batch"] = batch(2, "test_batch")
    files["batches.meta"] = pickle.dumps({b"label_names": [n.encode() for n in CIFAR_LABELS],
                                          b"num_cases_per_batch": 10000, b"num_vis": 3072}, protocol=2)
    files["readme.html"] = b"<html></html>"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue(), arrays


@pytest.fixture(scope="module")
def archives():
    cifar, arrays = cifar_tar()
    return {"/tiny-imagenet-200.zip": tiny_zip(), "/cifar-10-python.tar.gz": cifar, "arrays": arrays}


class Server:
    """Serves ``files`` on 127.0.0.1 with Range support; ``cut[path] = n`` makes the next answer for ``path`` stop
    after ``n`` bytes of body (the connection drops), ``busy[path] = n`` answers the next ``n`` requests with 503;
    every request is logged as (path, Range header)."""

    def __init__(self, files: dict[str, bytes]):
        self.files, self.cut, self.busy, self.log = dict(files), {}, {}, []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                server.log.append((self.path, self.headers.get("Range")))
                data = server.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                if server.busy.get(self.path):
                    server.busy[self.path] -= 1
                    self.send_error(503)
                    return
                start = 0
                m = re.match(r"bytes=(\d+)-$", self.headers.get("Range") or "")
                if m:
                    start = int(m.group(1))
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                body = data[start:]
                if self.path in server.cut:
                    body = body[:server.cut.pop(self.path)]
                    self.close_connection = True
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(archives):
    s = Server({k: v for k, v in archives.items() if k.startswith("/")})
    yield s
    s.close()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("IE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def options(server, **kw) -> dict:
    files = server.files
    return {"tiny_imagenet_url": server.url + "/tiny-imagenet-200.zip",
            "tiny_imagenet_md5": md5(files["/tiny-imagenet-200.zip"]),
            "cifar10_url": server.url + "/cifar-10-python.tar.gz",
            "cifar10_md5": md5(files["/cifar-10-python.tar.gz"]), "progress": False, "retry_wait": 0.01} | kw


def cli_flags(server) -> list[str]:
    return [f"--{k.replace('_', '-')}={v}" for k, v in options(server).items() if k not in ("progress", "retry_wait")]


def test_fetch_converts_archives_into_shards_the_readers_read(server, archives, cache, tmp_path, monkeypatch):
    dest = tmp_path / "data"
    out = fetch_data(FetchConfig(**options(server, dest=str(dest), shard_bytes=20_000)))
    assert out["found"] == [] and set(out["fetched"]) == {"tiny-imagenet", "cifar10"}
    assert out["fetched"]["tiny-imagenet"] | {"shards": None} == {
        "classes": 3, "train": 12, "val": 96, "archive": "tiny-imagenet-200.zip",
        "archive_bytes": len(archives["/tiny-imagenet-200.zip"]), "shards": None}
    assert not list((cache / "downloads").iterdir())  # archives deleted once converted
    assert sorted(p.name for p in dest.iterdir()) == sorted(out["fetched"]["tiny-imagenet"]["shards"]
                                                            + out["fetched"]["cifar10"]["shards"] + ["SHA256SUMS"])
    sums = (dest / "SHA256SUMS").read_text().splitlines()
    assert len(sums) == len(list(dest.iterdir())) - 1 and all(re.fullmatch(r"[0-9a-f]{64}  \S+", s) for s in sums)
    tsv = (dest / "tiny-imagenet-200-classes.tsv").read_text()
    assert tsv == "".join(f"{w}\t{n}\n" for w, n in sorted(TINY.items()))

    train = shard_files("tiny-imagenet-200-train-", dest)  # verified against SHA256SUMS
    assert len(train) > 1 and train[0].name == "tiny-imagenet-200-train-000.tar.gz"
    rows = list(iter_shards(train))
    assert [k for k, _, _ in rows] == sorted(k for k, _, _ in rows) and len(rows) == 12
    key, jpg, meta = next(r for r in rows if r[0] == "train/n02123045_1")
    assert meta == {"names": "tabby, tabby cat", "path": "tiny-imagenet-200/train/n02123045/images/n02123045_1.JPEG",
                    "source": "tiny-imagenet-200", "split": "train", "wnid": "n02123045"}
    assert Image.open(io.BytesIO(jpg)).mode == "L"  # the zip's JPEG bytes, unchanged
    val = {k: m for k, _, m in iter_shards(shard_files("tiny-imagenet-200-val-", dest))}
    assert val["val/val_4"]["wnid"] == "n04285008" and val["val/val_4"]["split"] == "val" and len(val) == 96
    with tarfile.open(train[0]) as tar:
        first = tar.getmembers()[:2]
    assert [m.name for m in first] == ["train/n02099601_0.jpg", "train/n02099601_0.json"]
    assert all(m.mtime == 0 and m.mode == 0o644 for m in first)

    cifar = {k: (j, m) for k, j, m in iter_shards(shard_files("cifar10-test-", dest))}
    assert len(cifar) == 20 and cifar["test/cat_0001"][1] == {"label": "cat", "path": "test/cat/0001.jpg",
                                                               "source": "cifar10", "split": "test"}
    data, labels = archives["arrays"]["test_batch"]
    original = data[13].reshape(3, 32, 32).transpose(1, 2, 0)  # the 2nd cat (label 3) of the test batch
    decoded = np.asarray(Image.open(io.BytesIO(cifar["test/cat_0001"][0])))
    assert labels[13] == 3 and decoded.shape == (32, 32, 3)
    assert np.abs(decoded.astype(int) - original).mean() < np.abs(decoded.astype(int) - data[3].reshape(
        3, 32, 32).transpose(1, 2, 0)).mean()  # re-encoded, closer to its own pixels than to another image's

    # the project's readers, with the fetched folder as the data folder
    from ie_env.data.targets import cache as target_cache
    from ie_env.data.targets import load_target
    from offline_cache.tinyweb import TinywebConfig, build_tinyweb, open_world
    monkeypatch.setenv("IE_DATA_DIR", str(dest))
    monkeypatch.setattr(target_cache, "cache_dir", lambda: tmp_path / "targets")
    t = load_target("cifar10")
    assert t.train.shape == (50, 32, 32, 3) and np.bincount(t.test_labels).tolist() == [2] * 10
    t = load_target("tiny-imagenet:dog.n.01", image_size=16)
    assert t.class_wnids == ["n02099601"] and len(t.train) == 30 and len(t.test) == 2
    world = open_world(str(build_tinyweb(TinywebConfig(), name=str(tmp_path / "world"))))
    assert len(world) == 12 and set(world.wnids) == set(TINY)


@pytest.mark.parametrize("how", ["killed run", "dropped connection", "server busy, then dropped connection"])
def test_fetch_resumes_a_truncated_download(how, server, archives, cache, tmp_path):
    data = archives["/cifar-10-python.tar.gz"]
    half = len(data) // 2
    if how == "killed run":  # a .part left by an earlier run
        (cache / "downloads").mkdir(parents=True)
        (cache / "downloads" / "cifar-10-python.tar.gz.part").write_bytes(data[:half])
    else:
        server.cut["/cifar-10-python.tar.gz"] = half
        server.busy["/cifar-10-python.tar.gz"] = 1 if how.startswith("server busy") else 0
    out = fetch_data(FetchConfig(**options(server, dest=str(tmp_path / "data"), datasets="cifar10",
                                           keep_archives=True)))
    ranges = [r for p, r in server.log if p == "/cifar-10-python.tar.gz"]
    requests_made = len(server.log)
    if how == "killed run":
        assert ranges == [f"bytes={half}-"]
    else:  # the retry asks for what is missing (what arrived, less the 64 KiB chunk under way when it dropped)
        ranges = ranges[1:] if how.startswith("server busy") else ranges
        assert len(ranges) == 2 and ranges[0] is None and 0 < int(re.fullmatch(r"bytes=(\d+)-", ranges[1])[1]) <= half
    assert (cache / "downloads" / "cifar-10-python.tar.gz").read_bytes() == data
    assert out["fetched"]["cifar10"]["train"] == 50 and len(shard_files("cifar10-train-", tmp_path / "data")) == 1
    again = fetch_data(FetchConfig(**options(server, dest=str(tmp_path / "data"), datasets="cifar10", force=True)))
    assert again["fetched"]["cifar10"]["test"] == 20 and len(server.log) == requests_made  # the kept archive is reused


@pytest.mark.parametrize("damage", ["md5 mismatch", "truncated zip", "corrupt tar.gz"])
def test_fetch_of_a_damaged_archive_is_one_line_and_leaves_no_shard(damage, server, archives, cache, tmp_path,
                                                                    monkeypatch, capsys):
    from ie_env.run.cli import main

    dest = tmp_path / "data"
    dest.mkdir()
    monkeypatch.setenv("IE_DATA_DIR", str(dest))
    flags = cli_flags(server)
    if damage == "truncated zip":  # the published checksum is the damaged file's: only conversion can tell
        zipped = archives["/tiny-imagenet-200.zip"]
        server.files["/tiny-imagenet-200.zip"] = zipped[:len(zipped) * 2 // 3]
        flags = cli_flags(server)
    elif damage == "corrupt tar.gz":
        cifar = bytearray(archives["/cifar-10-python.tar.gz"])
        cifar[len(cifar) // 2:len(cifar) // 2 + 64] = bytes(64)
        server.files["/cifar-10-python.tar.gz"] = bytes(cifar)
        flags = cli_flags(server) + ["--datasets=cifar10"]
    else:
        flags += ["--cifar10-md5=" + "0" * 32, "--datasets=cifar10"]
    assert main(["fetch-data", "--no-progress", *flags]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ie-explore fetch-data: error:") and "Traceback" not in err[0]
    assert {"md5 mismatch": "md5", "truncated zip": "tiny-imagenet-200.zip cannot be converted",
            "corrupt tar.gz": "cifar-10-python.tar.gz cannot be converted"}[damage] in err[0]
    assert list(dest.iterdir()) == []  # no shard, no SHA256SUMS, no temporary folder
    if damage == "md5 mismatch":
        assert list((cache / "downloads").iterdir()) == []  # the damaged download is not resumed from


def test_fetch_via_cli_into_an_empty_data_dir_then_a_noop(server, cache, tmp_path, monkeypatch, capsys):
    from ie_env.run.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["fetch-data", "--help"])
    assert exit_.value.code == 0 and "--tiny-imagenet-url" in capsys.readouterr().out
    dest = tmp_path / "empty"
    dest.mkdir()
    monkeypatch.setenv("IE_DATA_DIR", str(dest))
    assert main(["fetch-data", "--json", "--no-progress", *cli_flags(server)]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out.strip().splitlines()[-1])
    assert out["data_dir"] == str(dest.resolve()) and set(out["fetched"]) == {"tiny-imagenet", "cifar10"}
    assert "fetched tiny-imagenet (108 images" in captured.err
    assert len(shard_files("cifar10-test-")) == 1 and len(shard_files("tiny-imagenet-200-train-")) == 1
    requests_made = len(server.log)
    assert main(["fetch-data", "--json", "--no-progress", *cli_flags(server)]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["fetched"] == {} and out["found"] == ["tiny-imagenet", "cifar10"] and len(server.log) == requests_made


def test_fetch_without_data_dir_goes_to_the_cache_which_data_dir_then_finds(server, cache, tmp_path, monkeypatch):
    monkeypatch.delenv("IE_DATA_DIR", raising=False)
    monkeypatch.setattr(paths, "REPO_ROOT", tmp_path / "repo")  # no ../shared/data beside it
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataMissingError, match="ie-explore fetch-data"):
        data_dir()
    with pytest.raises(FetchError, match="md5"):  # a failed fetch leaves nothing data_dir() would take for data
        fetch_data(FetchConfig(**options(server, datasets="cifar10", cifar10_md5="0" * 32)))
    with pytest.raises(DataMissingError):
        data_dir()
    out = fetch_data(FetchConfig(**options(server, datasets="cifar10")))
    assert data_dir() == (cache / "data").resolve() == Path(out["data_dir"])
    assert len(shard_files("cifar10-train-")) == 1
    out = fetch_data(FetchConfig(**options(server)))  # the other dataset joins the same folder and SHA256SUMS
    assert out["found"] == ["cifar10"] and list(out["fetched"]) == ["tiny-imagenet"]
    assert len(shard_files("cifar10-train-")) == 1 and len(shard_files("tiny-imagenet-200-val-")) == 1


def test_fetch_is_a_noop_when_the_found_data_folder_holds_the_shards(server, cache, tmp_path, monkeypatch):
    monkeypatch.delenv("IE_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    if (paths.REPO_ROOT.parent / "shared" / "data" / "SHA256SUMS").exists():  # the real shards beside the project
        out = fetch_data(FetchConfig(**options(server)))
        assert out["found"] == ["tiny-imagenet", "cifar10"] and out["fetched"] == {} and server.log == []
    shared = tmp_path / "shared" / "data"  # a found folder with only CIFAR-10: the project would not read a
    fetch_data(FetchConfig(**options(server, dest=str(shared), datasets="cifar10")))  # fetch elsewhere
    monkeypatch.setattr(paths, "REPO_ROOT", tmp_path / "repo")
    before = len(server.log)
    assert fetch_data(FetchConfig(**options(server, datasets="cifar10")))["found"] == ["cifar10"]
    with pytest.raises(FetchError, match="lacks verified tiny-imagenet shards: fetch them into it"):
        fetch_data(FetchConfig(**options(server)))
    assert len(server.log) == before and not (cache / "data").exists()
