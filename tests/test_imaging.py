"""Image processing of the fetch stage: guards, RGB conversion, resizing, re-encoding."""
from __future__ import annotations

import hashlib
import io

from PIL import Image

from experiments.loopback_web import BOMB_MEDIUM, GOOD, HTML, PNG, TRUNCATED
from ie_env.web.imaging import process_image, resize


def test_resize_modes_keep_square_size():
    img = Image.new("RGB", (90, 40), (200, 10, 10))
    for mode in ("center_crop", "stretch", "pad"):
        assert resize(img, 16, mode).size == (16, 16)
    assert resize(img, 0, "center_crop").size == (90, 40)


def test_process_image_statuses_and_hash():
    out = process_image(GOOD, 32, "center_crop", 90, 40_000_000)
    assert out.status == "ok" and (out.width, out.height) == (32, 32)
    assert out.sha256 == hashlib.sha256(out.image).hexdigest() and out.raw_sha256 == hashlib.sha256(GOOD).hexdigest()
    with Image.open(io.BytesIO(out.image)) as img:
        assert img.format == "JPEG" and img.mode == "RGB"
    assert process_image(PNG, 0, "pad", 90, 40_000_000).status == "ok"
    assert process_image(HTML, 32, "center_crop", 90, 40_000_000).status == "not_image"
    assert process_image(TRUNCATED, 32, "center_crop", 90, 40_000_000).status == "corrupt"
    assert process_image(BOMB_MEDIUM, 32, "center_crop", 90, 40_000_000).status == "decompression_bomb"
