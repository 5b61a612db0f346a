"""Thumbnail geometry, as PocketBase 0.40.6 produced it for the same inputs."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from core.store import thumbs


def image(width: int, height: int, fmt: str = "PNG", mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    img = Image.new(mode, (width, height), "red")
    # a marker in the top-left corner, to see which side a crop kept
    img.paste("blue" if mode == "RGB" else 0, (0, 0, max(1, width // 10), max(1, height // 10)))
    img.save(out, fmt)
    return out.getvalue()


def size_of(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as img:
        return img.size


@pytest.mark.parametrize(
    ("source", "thumb", "expected"),
    [
        ((200, 100), "100x100", (100, 100)),  # crop to fill, from the center
        ((200, 100), "50x50", (50, 50)),
        ((200, 100), "0x40", (80, 40)),  # one side 0: keep the aspect ratio
        ((200, 100), "40x0t", (40, 20)),
        ((200, 100), "40x40f", (40, 20)),  # fit inside, no crop
        ((20, 10), "40x40f", (20, 10)),  # fit never enlarges
        ((20, 10), "40x40", (40, 40)),  # fill does
        ((200, 100), "60x30b", (60, 30)),
    ],
)
def test_sizes(source: tuple[int, int], thumb: str, expected: tuple[int, int]) -> None:
    assert size_of(thumbs.render(image(*source), thumb, "x.png")) == expected


def test_crop_anchor() -> None:
    tall = image(100, 200)
    top = Image.open(io.BytesIO(thumbs.render(tall, "50x50t", "x.png"))).convert("RGB")
    bottom = Image.open(io.BytesIO(thumbs.render(tall, "50x50b", "x.png"))).convert("RGB")
    assert top.getpixel((0, 0)) == (0, 0, 255)  # the marker survives a crop from the top
    assert bottom.getpixel((0, 0)) == (255, 0, 0)


@pytest.mark.parametrize(
    ("name", "fmt"), [("a.png", "PNG"), ("a.JPG", "JPEG"), ("a.gif", "GIF"), ("a.webp", "PNG"), ("a", "PNG")]
)
def test_format_follows_the_name(name: str, fmt: str) -> None:
    data = thumbs.render(image(30, 30, "GIF" if name.endswith("gif") else "PNG"), "10x10", name)
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == fmt


def test_transparency_is_kept_for_png() -> None:
    data = thumbs.render(image(30, 30, mode="RGBA"), "10x10", "a.png")
    with Image.open(io.BytesIO(data)) as img:
        assert img.mode == "RGBA"


@pytest.mark.parametrize("bad", ["0x0", "10", "x10", "10x10z", "-1x5"])
def test_bad_sizes(bad: str) -> None:
    with pytest.raises(thumbs.ThumbError):
        thumbs.parse_size(bad)


def test_not_an_image() -> None:
    with pytest.raises(thumbs.ThumbError):
        thumbs.render(b"hello", "10x10", "a.png")
