"""Downloader benchmark: images/s on loopback next to img2dataset, and the status histogram of a hostile mix.

1. Makes ``--n`` distinct small JPEGs (128x128), stores them in a snapshot and serves it with the project's own
   snapshot server (``python -m offline_cache.server``, a separate process) on 127.0.0.1.
2. Fetches every URL with :class:`ie_env.web.download.Downloader` (its defaults, ``allow_private=True`` since the
   server is on loopback, ``per_host`` raised to ``threads`` since every URL is on one host) and times it.
3. Fetches the same URL list with img2dataset at its default settings, installed only in this benchmark's own
   virtual environment (``<cache>/bench-venv``, made with ``python -m venv`` + ``pip install img2dataset`` when
   missing); its rate is successes / the shard duration it reports (its start-up is not counted). When it
   cannot be installed or run, the rate is ``null`` and the reason is printed.
4. Runs the downloader against a server mixing good and hostile answers (tests/http_fixtures.py) plus URLs
   pointing at private addresses (fetched with the default ``allow_private=False``), and prints the histogram.
5. With ``--ray-workers 1,2``: fetches the same URL list with :class:`ie_env.web.ray_download.RayDownloader` on a
   local Ray instance, once per worker count (each worker a process running a Downloader with ``--threads``
   threads; the workers are started by a small warm-up batch first), and prints images/s and the histogram.

``--json`` prints ``{"ours_images_per_s", "img2dataset_64px_images_per_s", "ratio_same_output",
"img2dataset_images_per_s", "n_images", "status", "ray", ...}`` on its last line: the headline is
``ratio_same_output``, ours against img2dataset at the same 64 px output (``img2dataset_images_per_s`` is its
256 px default); ``--quick`` runs 500 images.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from experiments.loopback_web import HOSTILE, Server, image_app
from ie_env.paths import cache_dir
from ie_env.ray_cluster import connect, import_ray
from ie_env.types import SearchResult
from ie_env.web.download import Downloader, format_status
from ie_env.web.ray_download import RayDownloader
from offline_cache.snapshot import Snapshot

REPO = Path(__file__).resolve().parent.parent


def make_jpeg(i: int, size: int = 128) -> bytes:
    rng = np.random.default_rng(i)
    grad = np.linspace(0, 1, size)[None, :, None] * rng.integers(-120, 120, 3) + rng.integers(0, 256, 3)
    arr = np.clip(grad + rng.normal(0, 25, (size, size, 3)), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def image_snapshot(n: int) -> tuple[Path, list[str]]:
    """A snapshot holding ``n`` distinct JPEGs (made once, then reused), and their hashes."""
    path = cache_dir() / "bench" / f"images-{n}"
    if (path / "hashes.json").exists():
        return path, json.loads((path / "hashes.json").read_text())
    shutil.rmtree(path, ignore_errors=True)
    snap = Snapshot(path, create=True)
    with snap.transaction():
        hashes = [snap.put_blob(make_jpeg(i), "image/jpeg", 128, 128) for i in range(n)]
    snap._conn.execute("PRAGMA journal_mode=DELETE")
    snap.close()
    (path / "hashes.json").write_text(json.dumps(hashes))
    return path, hashes


def start_server(path: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "offline_cache.server", "--snapshot", str(path), "--port", "0"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = proc.stdout.readline()
    m = re.search(r"at (http://\S+) ", line)
    if not m:
        proc.kill()
        raise RuntimeError(f"the snapshot server did not start: {line.strip()!r}")
    return proc, m.group(1)


def bench_ours(urls: list[str], threads: int) -> tuple[float, Counter]:
    results = [SearchResult(i, u, u, "", "bench") for i, u in enumerate(urls)]
    with Downloader(allow_private=True, threads=threads, per_host=threads) as d:
        start = time.perf_counter()
        got = d.fetch(results)
        seconds = time.perf_counter() - start
    ok = sum(f.status == "ok" for f in got)
    return ok / seconds, d.status


def bench_ray(urls: list[str], threads: int, workers: list[int]) -> dict[int, tuple[float, Counter]]:
    """RayDownloader's images/s and histogram per number of workers, on one local Ray instance."""
    results = [SearchResult(i, u, u, "", "bench") for i, u in enumerate(urls)]
    options = dict(ray="local", allow_private=True, threads=threads, per_host=threads)
    started = connect("local")
    out = {}
    try:
        for k in workers:
            with RayDownloader(workers=k, **options) as warm:  # starts k worker processes
                warm.fetch(results[: 8 * k])
            with RayDownloader(workers=k, **options) as d:
                start = time.perf_counter()
                got = d.fetch(results)
                seconds = time.perf_counter() - start
            out[k] = (sum(f.status == "ok" for f in got) / seconds, d.status)
    finally:
        if started:
            import_ray().shutdown()
    return out


def bench_img2dataset(urls: list[str], work: Path, extra: tuple[str, ...] = ()) -> tuple[float | None, str]:
    """img2dataset's images/s at its defaults (plus ``extra`` arguments), or ``None`` and why."""
    venv = cache_dir() / "bench-venv"
    exe = venv / "bin" / "img2dataset"
    if not exe.exists():
        print(f"installing img2dataset into {venv} (its own venv) ...", file=sys.stderr, flush=True)
        try:
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
            subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "img2dataset"], check=True,
                           capture_output=True, text=True, timeout=1200)
        except (subprocess.SubprocessError, OSError) as e:
            err = getattr(e, "stderr", "") or str(e)
            return None, f"pip install img2dataset failed: {' '.join(str(err).split())[-300:]}"
    url_list = work / "urls.txt"
    url_list.write_text("\n".join(urls) + "\n")
    out = work / "img2dataset-out"
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1"}
    start = time.perf_counter()
    proc = subprocess.run([str(exe), "--url_list", str(url_list), "--input_format", "txt", "--output_folder",
                           str(out), *extra], capture_output=True, text=True, env=env, timeout=1800)
    wall = time.perf_counter() - start
    stats = sorted(out.glob("*_stats.json"))
    if proc.returncode != 0 or not stats:
        return None, f"img2dataset exited {proc.returncode}: {' '.join(proc.stderr.split())[-300:]}"
    s = [json.loads(p.read_text()) for p in stats]
    shutil.rmtree(out, ignore_errors=True)  # 5,000 images it wrote; only the stats matter
    ok = sum(x.get("successes", 0) for x in s)
    duration = max(x.get("end_time", 0) for x in s) - min(x.get("start_time", 0) for x in s)
    if duration <= 0:
        duration = sum(x.get("duration", 0) for x in s) or wall
    return ok / duration, (f"{ok} of {len(urls)} images in {duration:.1f} s of shard time ({wall:.1f} s wall with "
                           f"start-up); status {dict(sum((Counter(x.get('status_dict', {})) for x in s), Counter()))}")


def hostile_mix(n_good: int) -> Counter:
    """The downloader's histogram over good and hostile answers (and untrusted addresses)."""
    status: Counter = Counter()
    with Server(image_app) as srv:
        urls = [f"{srv.url}/good/{i}.jpg" for i in range(n_good)]
        urls += [srv.url + p for p in HOSTILE for _ in range(3)]  # each hostile URL under three names
        urls = [u if k < n_good else f"{u}?copy={k}" for k, u in enumerate(urls)]
        urls += [f"{srv.url}/flaky/{i}.jpg" for i in range(10)] + [f"{srv.url}/dup/{i}.jpg" for i in range(20)]
        urls += [f"{srv.url}/redirect-good", f"{srv.url}/good.png", f"{srv.url}/otherbot.jpg"]
        urls += ["file:///etc/passwd", "ftp://example.com/a.jpg", "data:image/png;base64,iVBORw0KGgo=", "http:///x.jpg"]
        urls += [urls[0], urls[1]]  # the same URLs again
        with Downloader(allow_private=True, deadline=3.0, read_timeout=2.0, max_bytes=100_000, backoff=0.05,
                        max_retry_after=0.2, threads=32, per_host=32) as d:
            d.fetch([SearchResult(i, u, u, "", "bench") for i, u in enumerate(urls)])
        status += d.status
    untrusted = ["http://10.0.0.1/a.jpg", "http://192.168.1.1/a.jpg", "http://169.254.169.254/latest/meta-data/",
                 "http://localhost/a.jpg", "http://[::1]/a.jpg", "http://127.0.0.1:9/a.jpg", "http://0.0.0.0/a.jpg",
                 "http://224.0.0.1/a.jpg"]
    with Downloader() as d:  # allow_private=False, the default
        d.fetch([SearchResult(i, u, u, "", "bench") for i, u in enumerate(untrusted)])
    return status + d.status


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=5000, help="images to serve and fetch")
    p.add_argument("--quick", action="store_true", help="500 images")
    p.add_argument("--threads", type=int, default=32, help="our downloader's threads")
    p.add_argument("--skip-img2dataset", action="store_true")
    p.add_argument("--ray-workers", default="", metavar="1,2",
                   help="also fetch with RayDownloader on a local Ray instance with each of these worker counts")
    p.add_argument("--json", action="store_true", help="print the results as JSON on the last line")
    a = p.parse_args(argv)
    n = 500 if a.quick else a.n
    theirs64 = None
    path, hashes = image_snapshot(n)
    proc, base = start_server(path)
    try:
        urls = [f"{base}/images/{h}" for h in hashes]
        ours, ours_status = bench_ours(urls, a.threads)
        print(f"ours: {ours:.0f} images/s over {n} images ({a.threads} threads, 64x64 JPEG out)", flush=True)
        print(format_status(ours_status, "loopback status"), flush=True)
        on_ray = bench_ray(urls, a.threads, [int(k) for k in a.ray_workers.split(",") if k]) if a.ray_workers else {}
        for k, (rate, status) in on_ray.items():
            print(f"ray, {k} worker(s): {rate:.0f} images/s over {n} images ({a.threads} threads each)", flush=True)
            print(format_status(status, f"ray {k} worker(s) status"), flush=True)
        if a.skip_img2dataset:
            theirs, note = None, "skipped (--skip-img2dataset)"
        else:
            work = cache_dir() / "bench" / f"work-{n}"
            work.mkdir(parents=True, exist_ok=True)
            try:
                theirs, note = bench_img2dataset(urls, work)
                if theirs:  # the same output size as ours: the headline, like-for-like figure
                    theirs64, note64 = bench_img2dataset(urls, work, ("--image_size", "64"))
            except (subprocess.SubprocessError, OSError) as e:
                theirs, note = None, f"img2dataset could not run: {e}"
        print(f"img2dataset: {'%.0f images/s' % theirs if theirs else 'null'} ({note})", flush=True)
        if theirs64:
            print(f"img2dataset --image_size 64: {theirs64:.0f} images/s ({note64})", flush=True)
            print(f"headline, same 64 px output and URLs: ours / img2dataset = {ours / theirs64:.2f}x", flush=True)
    finally:
        proc.terminate()
        proc.wait(10)
    status = hostile_mix(40 if a.quick else 200)
    print(format_status(status, "hostile mix status"), flush=True)
    out = {"ours_images_per_s": round(ours, 1), "img2dataset_images_per_s": round(theirs, 1) if theirs else None,
           "n_images": n, "status": dict(status), "img2dataset_note": note,
           "img2dataset_64px_images_per_s": round(theirs64, 1) if theirs64 else None,
           "ratio_same_output": round(ours / theirs64, 3) if theirs64 else None,
           "ray": {k: {"images_per_s": round(rate, 1), "status": dict(status)} for k, (rate, status) in on_ray.items()},
           "settings": {"ours": f"Downloader defaults, threads={a.threads}, per_host={a.threads}, image_size=64",
                        "img2dataset": "defaults (image_size=256, resize_mode=border, thread_count=256, "
                                       "processes_count=1, output_format=files)"}}
    if a.json:
        print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
