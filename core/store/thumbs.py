"""Image thumbnails the way PocketBase makes them (tools/filesystem CreateThumb), with Pillow.

Sizes: `WxH` resize and crop from the center, `WxHt` / `WxHb` crop from the top / bottom,
`WxHf` fit inside the box without cropping (never enlarging), `0xH` / `Wx0` resize keeping the
aspect ratio. Only the first frame of an animation is used. The thumbnail keeps the original's
format when Pillow can write it under that extension, else it is a PNG (as `imaging` does).
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

from core.store.files import write_atomic

THUMB_SIZE = re.compile(r"^(\d+)x(\d+)(t|b|f)?$")
DEFAULT_SIZES = ("100x100",)
# what PocketBase makes thumbnails of; anything else is served as the original
IMAGE_TYPES = ("image/png", "image/jpg", "image/jpeg", "image/gif", "image/webp")
_FORMATS = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".png": "PNG",
    ".gif": "GIF",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
}


class ThumbError(Exception):
    pass


def parse_size(size: str) -> tuple[int, int, str]:
    m = THUMB_SIZE.match(size)
    if m is None:
        raise ThumbError("thumb size must be in WxH, WxHt, WxHb or WxHf format")
    width, height, mode = int(m.group(1)), int(m.group(2)), m.group(3) or ""
    if width == 0 and height == 0:
        raise ThumbError("thumb width and height cannot be zero at the same time")
    return width, height, mode


def render(data: bytes, size: str, name: str) -> bytes:
    """The thumbnail of an image (bytes in, bytes out); `name` picks the output format."""
    width, height, mode = parse_size(size)
    # Pillow is imported when the first thumbnail is made: it costs every start-up otherwise
    from PIL import Image, ImageOps

    try:
        with Image.open(io.BytesIO(data)) as opened:
            opened.seek(0)
            img = ImageOps.exif_transpose(opened)
            img = img.convert("RGBA" if _has_alpha(img) else "RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise ThumbError(f"cannot decode image: {e}") from e
    thumb = _resize(img, width, height, mode)
    fmt = _FORMATS.get(Path(name).suffix.lower(), "PNG")
    if fmt == "JPEG" and thumb.mode != "RGB":
        thumb = thumb.convert("RGB")
    out = io.BytesIO()
    thumb.save(out, fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return out.getvalue()


def create(original: Path, target: Path, size: str) -> None:
    write_atomic(target, render(original.read_bytes(), size, original.name))


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)


def _resize(img: Image.Image, width: int, height: int, mode: str) -> Image.Image:
    from PIL import Image, ImageOps

    src_w, src_h = img.size
    if width == 0 or height == 0:
        # imaging.Resize with one side 0: the other follows the aspect ratio, rounded
        if width == 0:
            width = max(1, int(src_w * height / src_h + 0.5))
        else:
            height = max(1, int(src_h * width / src_w + 0.5))
        return img.resize((width, height), Image.Resampling.BILINEAR)
    if mode == "f":
        # imaging.Fit: shrink into the box keeping the aspect ratio, never enlarge
        if src_w <= width and src_h <= height:
            return img.copy()
        if src_w / src_h > width / height:
            new_w, new_h = width, max(1, int(width / (src_w / src_h) + 0.5))
        else:
            new_w, new_h = max(1, int(height * (src_w / src_h) + 0.5)), height
        return img.resize((new_w, new_h), Image.Resampling.BILINEAR)
    centering = {"t": (0.5, 0.0), "b": (0.5, 1.0)}.get(mode, (0.5, 0.5))
    return ImageOps.fit(img, (width, height), Image.Resampling.BILINEAR, centering=centering)
