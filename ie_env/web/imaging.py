"""Image processing of the fetch stage: decoding untrusted bytes with guards, RGB conversion, resizing, re-encoding."""
from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from ie_env.web.netsafety import one_line

# Images past Pillow's own limit are refused by the stricter ``max_pixels`` check; its warning adds nothing.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


@dataclass
class Outcome:
    """What became of one URL: a status of :data:`ie_env.web.download.STATUSES`, and the image when ``ok``."""

    status: str
    detail: str = ""
    image: bytes | None = None
    """The re-encoded JPEG."""
    sha256: str = ""
    """Hash of ``image``."""
    raw_sha256: str = ""
    """Hash of the bytes as downloaded (the same image under two URLs is caught before re-encoding)."""
    width: int = 0
    height: int = 0


def process_image(data: bytes, image_size: int, resize_mode: str, jpeg_quality: int, max_pixels: int) -> Outcome:
    """Decode downloaded bytes with guards (not an image, decompression bomb, corrupt), convert to RGB, resize
    (``image_size`` 0 keeps the size) and re-encode as JPEG."""
    raw_sha = hashlib.sha256(data).hexdigest()
    try:
        img = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as e:
        return Outcome("decompression_bomb", one_line(str(e)))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        return Outcome("not_image", one_line(f"{type(e).__name__}: {e}"))
    with img:
        width, height = img.size
        if width * height > max_pixels:
            return Outcome("decompression_bomb", f"{width}x{height} pixels > max_pixels={max_pixels}")
        if width < 1 or height < 1:
            return Outcome("corrupt", f"{width}x{height} image")
        try:
            if image_size and img.format == "JPEG":
                img.draft("RGB", (image_size, image_size))  # decode at a reduced scale: most of the cost saved
            img.load()
            out = resize(to_rgb(img), image_size, resize_mode)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
            return Outcome("corrupt", one_line(f"{type(e).__name__}: {e}"))
    buf = io.BytesIO()
    out.save(buf, "JPEG", quality=jpeg_quality)
    image = buf.getvalue()
    return Outcome("ok", f"original {width}x{height}", image, hashlib.sha256(image).hexdigest(), raw_sha,
                   out.width, out.height)


def to_rgb(img: Image.Image) -> Image.Image:
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        base = Image.new("RGB", rgba.size, (255, 255, 255))
        base.paste(rgba, mask=rgba.getchannel("A"))
        return base
    return img.convert("RGB")


def resize(img: Image.Image, size: int, mode: str) -> Image.Image:
    if not size or img.size == (size, size):
        return img
    w, h = img.size
    if mode == "stretch":
        return img.resize((size, size), Image.BICUBIC, reducing_gap=2.0)
    scale = size / min(w, h) if mode == "center_crop" else size / max(w, h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    img = img.resize((nw, nh), Image.BICUBIC, reducing_gap=2.0)
    if mode == "center_crop":
        left, top = (nw - size) // 2, (nh - size) // 2
        return img.crop((left, top, left + size, top + size))
    canvas = Image.new("RGB", (size, size))
    canvas.paste(img, ((size - nw) // 2, (size - nh) // 2))
    return canvas
