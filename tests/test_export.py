"""`ie-explore export`: a snapshot's distinct images as webdataset tar shards or parquet, read back by the
webdataset package and by pyarrow."""
from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from experiments.loopback_web import make_image
from ie_env.run.cli import main as cli_main
from ie_env.types import SearchResult
from offline_cache.export import ExportConfig, export_snapshot
from offline_cache.snapshot import Snapshot, sha256_hex

FIELDS = {"key", "url", "caption", "license", "source", "status", "sha256", "width", "height", "snapshot_key"}


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """A recorded run: 5 results, 3 images stored (one URL repeats another's image), 1 timeout."""
    path = tmp_path_factory.mktemp("exp") / "snap"
    with Snapshot(path, create=True) as snap:
        blobs = [make_image(i, (40, 30)) for i in range(3)] + [make_image(9, (20, 20), "PNG")]
        hashes = [snap.put_blob(b) for b in blobs]
        res = [SearchResult(i, f"k{i}", f"https://web.test/{i}.jpg", f"a tabby cat {i}", "openverse/flickr", "by")
               for i in range(6)]
        snap.put_results("openverse", "tabby cat", res)
        for i, status, sha in [(0, "ok", hashes[0]), (1, "ok", hashes[1]), (2, "duplicate", hashes[0]),
                               (3, "timeout", ""), (4, "ok", hashes[2]), (5, "ok", hashes[3])]:
            snap.put_download(res[i].url, status, sha)
    return path, hashes


def test_export_webdataset_reads_back_with_webdataset(recording, tmp_path):
    import webdataset as wds

    path, hashes = recording
    out = tmp_path / "wds"
    report = export_snapshot(path, ExportConfig(format="webdataset", out=str(out), shard_size=3))
    assert report["shards"] == ["00000.tar", "00001.tar"] and report["samples"] == 4
    assert report["skipped"] == {"duplicate": 1, "timeout": 1}
    samples = list(wds.WebDataset(str(out / "{00000..00001}.tar"), shardshuffle=False))
    assert [s["__key__"] for s in samples] == ["000000000", "000000001", "000000002", "000000003"]
    assert {k for k in samples[0] if not k.startswith("__")} == {"jpg", "json", "txt"} and "png" in samples[3]
    for s, sha, i in zip(samples, hashes, (0, 1, 4, 5)):
        meta = json.loads(s["json"])
        image = s.get("jpg", s.get("png"))
        assert set(meta) == FIELDS and meta["status"] == "ok" and meta["sha256"] == sha == sha256_hex(image)
        assert meta["url"] == f"https://web.test/{i}.jpg" and s["txt"].decode() == meta["caption"] == f"a tabby cat {i}"
        assert meta["license"] == "by" and meta["snapshot_key"] == f"k{i}"
        assert Image.open(io.BytesIO(image)).size == (meta["width"], meta["height"])
    with pytest.raises(ValueError, match="already holds .tar shards"):
        export_snapshot(path, ExportConfig(format="webdataset", out=str(out)))


def test_export_parquet_reads_back_with_pyarrow(recording, tmp_path):
    import pyarrow.parquet as pq

    path, hashes = recording
    report = export_snapshot(path, ExportConfig(format="parquet", out=str(tmp_path / "pq")))
    assert report["shards"] == ["00000.parquet"]
    table = pq.read_table(tmp_path / "pq")
    assert set(table.column_names) == FIELDS | {"image"}
    rows = table.to_pylist()
    assert [r["sha256"] for r in rows] == hashes and all(sha256_hex(r["image"]) == r["sha256"] for r in rows)
    assert [(r["width"], r["height"]) for r in rows] == [(40, 30)] * 3 + [(20, 20)]


def test_export_world_from_the_command_line(tiny_world, tmp_path, capsys):
    import webdataset as wds

    out = tmp_path / "world"
    assert cli_main(["export", str(tiny_world.path), "--format", "webdataset", "--out", str(out),
                     "--shard-size", "30", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["samples"] == len(tiny_world) == 72 and report["shards"] == ["00000.tar", "00001.tar", "00002.tar"]
    metas = [json.loads(s["json"]) for s in wds.WebDataset(str(out / "{00000..00002}.tar"), shardshuffle=False)]
    assert [m["snapshot_key"] for m in metas] == tiny_world.keys
    assert [m["caption"] for m in metas] == tiny_world.captions
    assert cli_main(["export", str(tmp_path / "nothing"), "--out", str(tmp_path / "x")]) == 2
    assert "no snapshot at" in capsys.readouterr().err
