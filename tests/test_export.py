"""`ie-explore export`: a snapshot's distinct images as webdataset tar shards or parquet, read back by the
webdataset package and by pyarrow; the filters by the recording run's reward (--top, --min-reward) and ground
truth (--relevant-only)."""
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

FIELDS = {"key", "url", "caption", "license", "source", "status", "sha256", "width", "height", "snapshot_key",
          "reward", "query", "relevant"}


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
        assert meta["reward"] is meta["query"] is meta["relevant"] is None  # no run kept rewards
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


@pytest.fixture
def rewarded(recording, tmp_path):
    """The recording plus the rewards of a run with ground truth (image 2 has none: a catalogue image never scored)."""
    path, hashes = recording
    copy = tmp_path / "rewarded"
    with Snapshot(path, readonly=True) as src, Snapshot(copy, create=True) as snap:
        for sha in hashes:
            snap.put_blob(src.get_blob(sha))
        for engine, query in src.recorded_queries():
            snap.put_results(engine, query, src.get_results(engine, query))
        for url, status, sha, detail in src.downloads():
            snap.put_download(url, status, sha, detail)
        snap.put_rewards("tabby cat", [hashes[0], hashes[1], hashes[3]], [0.5, 0.9, 0.7], [True, False, True])
    return copy, hashes


def read_back(out):
    import webdataset as wds

    return [json.loads(s["json"]) for s in wds.WebDataset(sorted(str(p) for p in out.glob("*.tar")),
                                                           shardshuffle=False)]


def test_top_min_reward_and_relevant_only_select_by_the_runs_reward(rewarded, tmp_path, capsys):
    path, hashes = rewarded
    assert cli_main(["export", str(path), "--top", "2", "--out", str(tmp_path / "top"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["samples"] == 2 and report["skipped"]["filtered"] == 2
    metas = read_back(tmp_path / "top")
    assert [(m["key"], m["sha256"], m["reward"], m["query"], m["relevant"]) for m in metas] == [
        ("000000000", hashes[1], 0.9, "tabby cat", False), ("000000001", hashes[3], 0.7, "tabby cat", True)]
    export_snapshot(path, ExportConfig(out=str(tmp_path / "min"), min_reward=0.6))
    assert [m["reward"] for m in read_back(tmp_path / "min")] == [0.9, 0.7]
    export_snapshot(path, ExportConfig(out=str(tmp_path / "rel"), relevant_only=True, shard_size=1))
    assert [(m["reward"], m["relevant"]) for m in read_back(tmp_path / "rel")] == [(0.7, True), (0.5, True)]
    export_snapshot(path, ExportConfig(out=str(tmp_path / "all")))  # no filter: every image, rewards where kept
    assert [m["reward"] for m in read_back(tmp_path / "all")] == [0.5, 0.9, None, 0.7]


def test_a_reward_filter_on_a_snapshot_without_rewards_is_a_one_line_error(recording, tmp_path, capsys):
    path, _ = recording
    for flag in (["--top", "3"], ["--min-reward", "0.5"], ["--relevant-only"]):
        assert cli_main(["export", str(path), *flag, "--out", str(tmp_path / "x")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "holds no rewards" in err[0] and "ie-explore live --record" in err[0]
    assert not (tmp_path / "x").exists()


def test_recorded_live_run_keeps_its_rewards_and_exports_the_best(tiny_world, tmp_path, capsys):
    from offline_cache.server import SnapshotServer

    rec, run = tmp_path / "rec", tmp_path / "run"
    with SnapshotServer(world=tiny_world) as server:
        assert cli_main(["live", "--engine", "clip_retrieval", "--engine-option", f"base_url={server.url}",
                         "--engine-option", f"indice_name={tiny_world.name}", "--downloader-option",
                         "allow_private=true", "--record", str(rec), "--target", "tiny-imagenet:dog.n.01",
                         "--mode", "frozen", "--frozen-encoder", "resnet18", "--image-size", "32",
                         "--vocabulary-under", "dog.n.01,cat.n.01", "--budget", "6", "--queries-per-iteration", "3",
                         "--results-per-query", "8", "--out", str(run), "--json"]) == 0
    final = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["final"]
    with Snapshot(rec, readonly=True) as snap:
        rewards = snap.rewards()
        stored = {sha for _, status, sha, _ in snap.downloads() if status == "ok"}
    assert len(rewards) == final["distinct_images"] and set(rewards) == stored
    assert all(rel is None for _, _, rel in rewards.values())  # the live web has no ground truth
    assert cli_main(["export", str(rec), "--top", "5", "--out", str(tmp_path / "top")]) == 0
    metas = read_back(tmp_path / "top")
    best = sorted(rewards.values(), key=lambda v: -v[0])[:5]
    assert [m["reward"] for m in metas] == [v[0] for v in best] and all(m["query"] for m in metas)
    assert cli_main(["export", str(rec), "--relevant-only", "--out", str(tmp_path / "rel")]) == 2
    assert "has no ground truth" in capsys.readouterr().err
