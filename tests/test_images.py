"""brushwork.io.images: every odd kind of input file, and safe saving (images generated in tmp_path)."""

from __future__ import annotations

import os
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from brushwork.io import files, images
from brushwork.io.images import ImageError, check_writable, load_image, save_image


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png16(arr: np.ndarray) -> bytes:
    """A 16-bit PNG (PIL cannot write 16-bit RGB): arr uint16 (H, W) grey or (H, W, 3) RGB."""
    h, w = arr.shape[:2]
    ctype = 0 if arr.ndim == 2 else 2
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 16, ctype, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(raw)) + _png_chunk(b"IEND", b"")


def _gradient(w: int = 32, h: int = 24) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x + y) % 256], axis=2).astype(np.uint8)


# ------------------------------------------------------------------------------------------- good inputs


def test_rgb_png_roundtrip(tmp_path):
    rgb = _gradient()
    save_image(tmp_path / "a.png", rgb)
    got = load_image(tmp_path / "a.png")
    assert got.rgb.dtype == np.uint8 and got.rgb.shape == (24, 32, 3)
    assert np.array_equal(got.rgb, rgb)
    assert got.alpha is None and got.note is None and got.size == (32, 24)


def test_16bit_grey_png_is_scaled_not_clipped(tmp_path):
    g = np.full((16, 16), 40000, np.uint16)
    g[0, 0], g[0, 1] = 0, 65535
    (tmp_path / "g16.png").write_bytes(_png16(g))
    got = load_image(tmp_path / "g16.png")
    assert got.rgb.shape == (16, 16, 3)
    assert got.rgb[5, 5].tolist() == [round(40000 / 257)] * 3  # 156, not 255 (which clipping gives)
    assert got.rgb[0, 0, 0] == 0 and got.rgb[0, 1, 0] == 255


def test_16bit_rgb_png(tmp_path):
    a = np.zeros((16, 16, 3), np.uint16)
    a[..., 0], a[..., 1], a[..., 2] = 65535, 32896, 300
    (tmp_path / "rgb16.png").write_bytes(_png16(a))
    got = load_image(tmp_path / "rgb16.png")
    assert np.abs(got.rgb[3, 3].astype(int) - [255, 128, 1]).max() <= 1


def test_16bit_tiff(tmp_path):
    g = np.full((16, 16), 30000, np.uint16)
    Image.fromarray(g).save(tmp_path / "g16.tif")
    got = load_image(tmp_path / "g16.tif")
    assert abs(int(got.rgb[0, 0, 0]) - round(30000 / 257)) <= 1


def test_palette_with_transparency(tmp_path):
    im = Image.new("P", (16, 16), 0)
    im.putpalette([255, 0, 0, 0, 0, 255] + [0] * (256 * 3 - 6))
    im.paste(1, (8, 0, 16, 16))
    im.save(tmp_path / "p.png", transparency=0)
    got = load_image(tmp_path / "p.png")
    assert got.rgb[0, 0].tolist() == [255, 0, 0] and got.rgb[0, 15].tolist() == [0, 0, 255]
    assert got.alpha is not None and got.alpha[0, 0] == 0 and got.alpha[0, 15] == 255
    assert got.composited(255)[0, 0].tolist() == [255, 255, 255]


def test_palette_opaque(tmp_path):
    Image.fromarray(_gradient()).convert("P").save(tmp_path / "p.gif")
    got = load_image(tmp_path / "p.gif")
    assert got.rgb.shape == (24, 32, 3) and got.alpha is None


def test_cmyk_jpeg(tmp_path):
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(tmp_path / "c.jpg", quality=95)
    got = load_image(tmp_path / "c.jpg")
    assert got.mode == "CMYK" and got.rgb.shape == (16, 16, 3)
    r, g, b = got.rgb[8, 8].astype(int)
    assert r > 200 and g < 60 and b < 60  # red


def test_greyscale(tmp_path):
    Image.new("L", (10, 12), 77).save(tmp_path / "l.png")
    got = load_image(tmp_path / "l.png")
    assert got.rgb.shape == (12, 10, 3) and (got.rgb == 77).all()


def test_rgba_keeps_alpha_separately(tmp_path):
    a = np.zeros((16, 16, 4), np.uint8)
    a[..., 0], a[..., 3] = 200, 128
    Image.fromarray(a, "RGBA").save(tmp_path / "a.png")
    got = load_image(tmp_path / "a.png")
    assert (got.rgb[..., 0] == 200).all() and (got.rgb[..., 1:] == 0).all()  # colour, alpha ignored
    assert got.alpha is not None and (got.alpha == 128).all()
    flat = got.composited((0, 0, 0))
    assert abs(int(flat[0, 0, 0]) - 100) <= 1


def test_la(tmp_path):
    Image.new("LA", (16, 16), (90, 10)).save(tmp_path / "la.png")
    got = load_image(tmp_path / "la.png")
    assert (got.rgb == 90).all() and (got.alpha == 10).all()


def test_exif_orientation_is_applied(tmp_path):
    im = Image.fromarray(_gradient(40, 20))  # 40 wide, 20 high
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    im.save(tmp_path / "rot.jpg", exif=exif.tobytes())
    got = load_image(tmp_path / "rot.jpg")
    assert got.rgb.shape == (40, 20, 3)  # displayed upright: now 20 wide, 40 high


def test_animated_gif_first_frame(tmp_path):
    frames = [Image.new("RGB", (16, 16), c) for c in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=50, loop=0)
    got = load_image(tmp_path / "anim.gif")
    assert got.note == "animated GIF: using the first frame of 3"
    assert got.rgb[0, 0].tolist() == [255, 0, 0]


def test_animated_png_first_frame(tmp_path):
    frames = [Image.new("RGB", (16, 16), c) for c in [(0, 255, 0), (0, 0, 255)]]
    frames[0].save(tmp_path / "anim.png", save_all=True, append_images=frames[1:], duration=50)
    got = load_image(tmp_path / "anim.png")
    assert got.note is not None and "first frame of 2" in got.note
    assert got.rgb[0, 0].tolist() == [0, 255, 0]


# -------------------------------------------------------------------------------------------- bad inputs


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match=r"nope\.png: no such file"):
        load_image(tmp_path / "nope.png")


def test_directory(tmp_path):
    with pytest.raises(ImageError, match="is a folder"):
        load_image(tmp_path)


def test_text_file(tmp_path):
    p = tmp_path / "notes.png"
    p.write_text("hello, not an image\n")
    with pytest.raises(ImageError, match="notes.png: not an image"):
        load_image(p)


@pytest.mark.parametrize("ext", ["png", "jpg"])
def test_truncated_file(tmp_path, ext):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(tmp_path / f"full.{ext}")
    data = (tmp_path / f"full.{ext}").read_bytes()
    (tmp_path / f"cut.{ext}").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match=rf"cut\.{ext}: corrupt or truncated"):
        load_image(tmp_path / f"cut.{ext}")


def test_tiny_images_rejected(tmp_path):
    Image.new("RGB", (1, 1)).save(tmp_path / "one.png")
    with pytest.raises(ImageError, match=r"one\.png: image is 1x1 pixels; at least 8x8 is needed"):
        load_image(tmp_path / "one.png")
    Image.new("RGB", (100, 7)).save(tmp_path / "thin.png")
    with pytest.raises(ImageError, match="at least 8x8"):
        load_image(tmp_path / "thin.png")


def test_bomb_header_checked_before_decoding(tmp_path):
    # A PNG header claiming 9000 x 9000 (81 MP) with no pixel data at all: refused from the header alone.
    ihdr = struct.pack(">IIBBBBB", 9000, 9000, 8, 2, 0, 0, 0)
    (tmp_path / "bomb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IEND", b""))
    with pytest.raises(ImageError, match=r"bomb\.png: image is 9000x9000 = 81\.0 megapixels, over the limit of 64\.0 megapixels"):
        load_image(tmp_path / "bomb.png")
    # Far past PIL's own guard too: still an ImageError stating our limit.
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    (tmp_path / "huge.png").write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IEND", b""))
    with pytest.raises(ImageError, match=r"huge\.png: image is 10000\.0 megapixels, over the limit of 64\.0 megapixels"):
        load_image(tmp_path / "huge.png")


def test_bomb_limit_configurable(tmp_path, monkeypatch):
    Image.new("RGB", (100, 100)).save(tmp_path / "a.png")
    with pytest.raises(ImageError, match="over the limit of 0.0 megapixels"):
        load_image(tmp_path / "a.png", max_pixels=5000)
    monkeypatch.setattr(images, "MAX_PIXELS", 9999)
    with pytest.raises(ImageError, match="over the limit"):
        load_image(tmp_path / "a.png")


def test_our_limit_overrides_a_lower_pil_guard(tmp_path, monkeypatch):
    Image.new("RGB", (100, 100), (1, 2, 3)).save(tmp_path / "a.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # PIL would call 10,000 px a bomb
    assert load_image(tmp_path / "a.png").rgb[0, 0].tolist() == [1, 2, 3]
    assert Image.MAX_IMAGE_PIXELS == 1000  # restored


# ----------------------------------------------------------------------------------------------- saving


@pytest.mark.parametrize("ext", [".png", ".jpg", ".jpeg", ".webp"])
def test_save_formats(tmp_path, ext):
    rgb = _gradient()
    p = save_image(tmp_path / f"out{ext}", rgb)
    got = load_image(p)
    assert got.rgb.shape == rgb.shape
    assert np.abs(got.rgb.astype(int) - rgb).mean() < 6
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


def test_save_rgba_png_keeps_alpha(tmp_path):
    rgba = np.dstack([_gradient(), np.full((24, 32), 99, np.uint8)])
    got = load_image(save_image(tmp_path / "a.png", rgba))
    assert (got.alpha == 99).all() and np.array_equal(got.rgb, rgba[..., :3])


def test_save_unknown_extension(tmp_path):
    with pytest.raises(ImageError, match=r"unknown image extension '\.bmpx'"):
        save_image(tmp_path / "x.bmpx", _gradient())


def test_save_missing_parent(tmp_path):
    with pytest.raises(ImageError, match="output folder .*missing does not exist"):
        save_image(tmp_path / "missing" / "x.png", _gradient())


def test_unwritable_path(tmp_path):
    (tmp_path / "somefile.txt").write_text("x")
    with pytest.raises(ImageError, match=r"somefile\.txt is a file, not a folder"):
        check_writable(tmp_path / "somefile.txt" / "out.png")
    (tmp_path / "sub.png").mkdir()
    with pytest.raises(ImageError, match=r"sub\.png: is a folder"):
        check_writable(tmp_path / "sub.png")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # root ignores permission bits: there the folder IS writable
            check_writable(locked / "out.png")
        else:
            with pytest.raises(ImageError, match="cannot write to folder .*permission denied"):
                check_writable(locked / "out.png")
    finally:
        locked.chmod(0o700)


def test_atomic_save_keeps_old_file_on_failure(tmp_path, monkeypatch):
    p = tmp_path / "keep.png"
    save_image(p, _gradient())
    before = p.read_bytes()

    def broken_save(self, fp, format=None, **kw):
        fp.write(b"partial garbage")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(ImageError, match=r"keep\.png: cannot write image \(disk full\)"):
        save_image(p, np.zeros((24, 32, 3), np.uint8))
    assert p.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["keep.png"]


def test_saved_file_has_normal_permissions(tmp_path):
    p = save_image(tmp_path / "perm.png", _gradient())
    assert p.stat().st_mode & 0o777 == 0o666 & ~files.UMASK  # not mkstemp's private 0600


# ---------------------------------------------------------------------------------------------- helpers


def test_tensor_roundtrip():
    rgb = _gradient()
    t = images.to_tensor(rgb)
    assert t.shape == (3, 24, 32) and t.dtype == torch.float32
    assert 0.0 <= float(t.min()) and float(t.max()) <= 1.0
    assert np.array_equal(images.to_uint8(t), rgb)
    assert np.array_equal(images.to_uint8(t.unsqueeze(0)), rgb)
    assert images.to_uint8(torch.full((3, 2, 2), 2.0))[0, 0].tolist() == [255, 255, 255]


def test_centre_crop_and_resize():
    rgb = _gradient(40, 20)
    sq = images.centre_crop_square(rgb)
    assert sq.shape == (20, 20, 3) and np.array_equal(sq, rgb[:, 10:30])
    assert images.resize(rgb, (10, 5)).shape == (5, 10, 3)
    assert images.resize(rgb, (80, 60), "area").shape == (60, 80, 3)
    flat = np.full((20, 20, 3), 123, np.uint8)
    assert (images.resize(flat, (7, 7)) == 123).all()
