"""Image I/O for the whole project: every image brushwork reads or writes goes through here.

Loading (:func:`load_image`) accepts whatever PIL can decode and always returns 8-bit RGB plus an
optional separate alpha channel:

* 16-bit images (PNG, TIFF; grey ``I;16``/``I``, RGB, RGBA) are *scaled* to 8 bits (v / 257), never
  clipped; float (``F``) images in [0, 1] are scaled by 255, others are min-max normalised.
* Palette (``P``) images are expanded, with their transparency (if any) becoming the alpha channel.
* CMYK JPEGs are converted to RGB (through their embedded ICC profile when there is one).
* Greyscale (``1``, ``L``, ``I;16``...) is replicated to three channels.
* ``LA`` / ``RGBA`` / transparent palettes: ``rgb`` is the colour with alpha *ignored* (not composited)
  and ``alpha`` is returned separately; :meth:`LoadedImage.composited` flattens onto a background.
* The EXIF orientation tag is applied (a phone photo comes out upright).
* Animated GIF / WebP / APNG and multi-page TIFF: the first frame is used, and ``note`` says so.

Refused, each with an :class:`ImageError` (a ``ValueError``) whose one-line message names the path:
a missing file, a directory, a file that is not an image, a corrupt or truncated image (the whole image
is decoded up front, so a broken file fails here rather than halfway through a painting), an image
smaller than :data:`MIN_SIDE` pixels on a side, and an image over :data:`MAX_PIXELS` pixels (a
"decompression bomb"), which is checked from the header before any pixel is decoded.

Saving (:func:`save_image`) picks the format from the extension (.png, .jpg/.jpeg, .webp) and writes
atomically (temporary file in the same folder, then ``os.replace``), so an interrupted or failed write
never leaves a half-written file or damages an existing one. :func:`check_writable` lets a command
check its output path before doing any expensive work.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

from .files import atomic_write

#: File suffixes taken as images when a folder is read (a folder to paint, a dataset, a benchmark's images).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".ppm", ".pgm", ".pnm")

MAX_PIXELS = 64_000_000
"""Default limit on width x height (64 megapixels, e.g. 8000 x 8000); checked before decoding."""

MAX_OUTPUT_SIDE = 16384
"""The largest output side in px (paint --width/--height, render --size, a stroke file's size)."""

MIN_SIDE = 8
"""Smallest accepted image side in pixels: anything smaller cannot be meaningfully painted."""

SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}

# PIL's own bomb guard (Image.MAX_IMAGE_PIXELS, ~89 MP: warning above it, error above twice it) is left
# in place for code that opens images directly; load_image applies its own stated limit from the header
# and turns PIL's error into an ImageError naming that limit.  Only a caller who passes a max_pixels above
# PIL's guard gets PIL's guard lifted, for that one open.


class ImageError(ValueError):
    """An image cannot be read or written; the message is one line and names the path."""


@dataclass
class LoadedImage:
    """A decoded image: ``rgb`` is uint8 (H, W, 3); ``alpha`` is uint8 (H, W) or None when opaque.

    ``rgb`` is the colour with alpha ignored (pixels under alpha 0 keep whatever colour the file has);
    use :meth:`composited` for the image as it would be displayed over a background.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    path: Path
    note: str | None = None  # e.g. "animated GIF: using the first frame of 12"
    mode: str = ""  # the file's PIL mode before conversion ("P", "I;16", "CMYK", ...)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.rgb.shape[1], self.rgb.shape[0]

    def composited(self, background: int | tuple[int, int, int] = 255) -> np.ndarray:
        """``rgb`` alpha-composited over a solid background (default white); ``rgb`` itself when opaque."""
        if self.alpha is None:
            return self.rgb
        bg = np.broadcast_to(np.asarray(background, dtype=np.float32), (3,))
        a = self.alpha.astype(np.float32)[..., None] / 255.0
        out = self.rgb.astype(np.float32) * a + bg * (1.0 - a)
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------------------------- loading


def _fail(path: Path, why: str) -> ImageError:
    return ImageError(f"{path}: {why}")


def _megapixels(n: int) -> str:
    return f"{n / 1e6:.1f} megapixels"


def _frames_note(im: Image.Image) -> str | None:
    try:
        n = int(getattr(im, "n_frames", 1))
    except Exception:  # counting frames parses the whole file; a broken tail is reported by load()
        return None
    if n <= 1:
        return None
    fmt = {"PNG": "APNG", "WEBP": "WebP"}.get(im.format or "", im.format or "image")
    if getattr(im, "is_animated", False) and fmt != "TIFF":
        return f"animated {fmt}: using the first frame of {n}"
    return f"multi-page {fmt}: using the first page of {n}"


def _scale_to_uint8(arr: np.ndarray, mode: str) -> np.ndarray:
    """A single-channel integer / float array to uint8 by scaling (never clipping) its range."""
    if arr.dtype == np.uint8:
        return arr
    a = arr.astype(np.float64)
    if mode.startswith("F"):
        lo, hi = (0.0, 1.0) if a.size and a.min() >= 0.0 and a.max() <= 1.0 else (float(a.min()), float(a.max()))
    elif a.size and (a.min() < 0 or a.max() > 65535):  # 32-bit integer data that is not 16-bit range
        lo, hi = float(a.min()), float(a.max())
    else:  # 16-bit data (I;16*, or I holding a 16-bit PNG): full scale is 65535
        lo, hi = 0.0, 65535.0
    if hi <= lo:
        return np.zeros(arr.shape, np.uint8)
    return np.clip(np.rint((a - lo) * (255.0 / (hi - lo))), 0, 255).astype(np.uint8)


def _cmyk_to_rgb(im: Image.Image) -> Image.Image:
    icc = im.info.get("icc_profile")
    if icc:
        try:
            from PIL import ImageCms

            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            return ImageCms.profileToProfile(im, src, ImageCms.createProfile("sRGB"), outputMode="RGB")
        except Exception:  # no littlecms, or a broken profile: fall back to the plain conversion
            pass
    return im.convert("RGB")


def _to_arrays(im: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    mode = im.mode
    if mode == "RGB":
        return np.asarray(im, dtype=np.uint8).copy(), None
    if mode in ("RGBA", "RGBa", "PA") or (mode == "P" and "transparency" in im.info):
        rgba = np.asarray(im.convert("RGBA"), dtype=np.uint8)
        return np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3])
    if mode in ("LA", "La"):
        la = np.asarray(im.convert("LA"), dtype=np.uint8)
        return np.repeat(la[..., :1], 3, axis=2), np.ascontiguousarray(la[..., 1])
    if mode in ("1", "L", "P") or mode.startswith("I") or mode.startswith("F"):
        if mode in ("1", "P"):
            if mode == "P":
                return np.asarray(im.convert("RGB"), dtype=np.uint8).copy(), None
            im = im.convert("L")
        grey = _scale_to_uint8(np.asarray(im), mode)
        return np.repeat(grey[..., None], 3, axis=2), None
    if mode == "CMYK":
        return np.asarray(_cmyk_to_rgb(im), dtype=np.uint8).copy(), None
    try:  # YCbCr, HSV, LAB, ...
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy(), None
    except Exception as e:
        raise ValueError(f"unsupported colour mode {mode!r} ({e})") from None


def _open(path: Path, limit: int) -> Image.Image:
    """Image.open (header only) with PIL's own bomb guard deferring to ``limit`` where that is higher."""
    with warnings.catch_warnings():
        # Our own limit (checked by the caller) is the one that applies; PIL's warning is only noise.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            return Image.open(path)
        except Image.DecompressionBombError as e:
            m = re.search(r"\((\d+) pixels\)", str(e))
            if not m or int(m.group(1)) > limit:
                raise
        # The caller explicitly allows more than PIL does: lift PIL's guard for this one open.
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            return Image.open(path)
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def load_image(path: str | os.PathLike, max_pixels: int | None = None) -> LoadedImage:
    """Decode an image file to 8-bit RGB (+ alpha); see the module docstring for what is accepted.

    ``max_pixels`` (default :data:`MAX_PIXELS`) bounds width x height, checked from the header.
    Raises :class:`ImageError` naming ``path`` on any problem.
    """
    path = Path(path)
    limit = MAX_PIXELS if max_pixels is None else int(max_pixels)
    if not path.exists():
        raise _fail(path, "no such file")
    if path.is_dir():
        raise _fail(path, "is a folder, not an image file")
    try:
        im = _open(path, limit)
    except Image.DecompressionBombError as e:
        m = re.search(r"\((\d+) pixels\)", str(e))
        size = _megapixels(int(m.group(1))) if m else "far too large"
        raise _fail(
            path, f"image is {size}, over the limit of {_megapixels(limit)} (a possible decompression bomb)"
        ) from None
    except UnidentifiedImageError:
        raise _fail(path, "not an image file PIL can read (expected PNG, JPEG, WebP, GIF, TIFF, BMP, ...)") from None
    except PermissionError:
        raise _fail(path, "permission denied") from None
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        raise _fail(path, f"cannot open image ({e})") from None
    with im:
        w, h = im.size
        if w * h > limit:
            raise _fail(
                path,
                f"image is {w}x{h} = {_megapixels(w * h)}, over the limit of {_megapixels(limit)} "
                "(a possible decompression bomb; pass max_pixels= to raise the limit)",
            )
        if w < MIN_SIDE or h < MIN_SIDE:
            raise _fail(path, f"image is {w}x{h} pixels; at least {MIN_SIDE}x{MIN_SIDE} is needed")
        note = _frames_note(im)
        mode = im.mode
        try:
            if note is not None:
                im.seek(0)
            im.load()  # force the full decode: truncated / corrupt data fails here, not later
        except Exception as e:
            raise _fail(path, f"corrupt or truncated image ({type(e).__name__}: {e})") from None
        try:
            upright = ImageOps.exif_transpose(im)
        except Exception:  # malformed EXIF: keep the stored orientation
            upright = im
            note = "; ".join(filter(None, [note, "unreadable EXIF orientation ignored"]))
        try:
            rgb, alpha = _to_arrays(upright if upright is not None else im)
        except Exception as e:
            raise _fail(path, f"cannot convert image to RGB ({e})") from None
    if alpha is not None and bool((alpha == 255).all()):
        alpha = None  # an alpha channel that is fully opaque carries nothing
    return LoadedImage(rgb=rgb, alpha=alpha, path=path, note=note, mode=mode)


# ---------------------------------------------------------------------------------------------- saving


def check_writable(path: str | os.PathLike) -> Path:
    """Check up front that an image can be saved at ``path``; returns it as a Path or raises ImageError.

    Checks the extension is one :func:`save_image` knows, the folder exists, is a folder and is
    writable, and ``path`` itself is not a folder.  Creates nothing.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in SAVE_FORMATS:
        raise _fail(path, f"unknown image extension {ext or '(none)'!r}; use one of {', '.join(SAVE_FORMATS)}")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        # A path through a regular file ("notes.txt/out.png") exists nowhere: say which part is wrong.
        for anc in parent.parents:
            if anc.exists() and not anc.is_dir():
                raise _fail(path, f"{anc} is a file, not a folder")
        raise _fail(path, f"output folder {parent} does not exist")
    if not parent.is_dir():
        raise _fail(path, f"{parent} is a file, not a folder")
    if path.is_dir():
        raise _fail(path, "is a folder; give a file name such as out.png")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise _fail(path, f"cannot write to folder {parent} (permission denied)")
    if path.exists() and not os.access(path, os.W_OK) and not os.access(parent, os.W_OK):
        raise _fail(path, "file is not writable")  # pragma: no cover - covered by the folder check
    return path


def _as_uint8_image(arr: np.ndarray, path: Path) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.dtype != np.uint8:
        raise _fail(path, f"save_image needs a uint8 array, got {arr.dtype}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))):
        raise _fail(path, f"save_image needs an (H, W), (H, W, 3) or (H, W, 4) array, got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise _fail(path, f"cannot save an empty image of shape {arr.shape}")
    return np.ascontiguousarray(arr)


def save_image(path: str | os.PathLike, rgb_or_rgba: np.ndarray, quality: int = 95) -> Path:
    """Write a uint8 (H, W, 3|4) or (H, W) array; format from the extension (.png, .jpg/.jpeg, .webp).

    Atomic: the image is encoded into a temporary file in the same folder which then replaces
    ``path``; on any failure the temporary file is removed and an existing ``path`` is untouched.
    JPEG has no alpha, so RGBA is composited onto white for .jpg.  ``quality`` (1-100) applies to JPEG
    and WebP (JPEG at quality >= 90 keeps full-resolution chroma).
    """
    path = check_writable(path)
    if not 1 <= int(quality) <= 100:
        raise _fail(path, f"quality must be in 1..100, got {quality}")
    arr = _as_uint8_image(rgb_or_rgba, path)
    fmt = SAVE_FORMATS[path.suffix.lower()]
    if fmt == "JPEG" and arr.ndim == 3 and arr.shape[2] == 4:
        arr = LoadedImage(arr[..., :3], arr[..., 3], path).composited(255)
    im = Image.fromarray(arr)
    options: dict = {}
    if fmt == "JPEG":
        options = {"quality": int(quality), "subsampling": 0 if quality >= 90 else 2, "optimize": True}
    elif fmt == "WEBP":
        options = {"quality": int(quality), "method": 4}
    elif fmt == "PNG":
        options = {"compress_level": 6}
    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            im.save(f, format=fmt, **options)

    try:
        atomic_write(path, write)
    except (OSError, ValueError) as e:
        if isinstance(e, ImageError):
            raise
        raise _fail(path, f"cannot write image ({e})") from None
    return path


# ---------------------------------------------------------------------------------------------- arrays


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, 3) (or (H, W) grey, or (H, W, 4) whose alpha is dropped) -> float32 (3, H, W) in [0, 1]."""
    a = np.asarray(rgb)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise ValueError(f"to_tensor needs an (H, W, 3) image, got shape {a.shape}")
    a = a[..., :3]
    if a.dtype == np.uint8:
        t = torch.from_numpy(np.require(a, requirements=("C", "W"))).permute(2, 0, 1).float().div_(255.0)
    elif np.issubdtype(a.dtype, np.floating):
        t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).permute(2, 0, 1).clamp(0.0, 1.0)
    else:
        raise ValueError(f"to_tensor needs uint8 or float data, got {a.dtype}")
    return t.contiguous()


def to_uint8(t: torch.Tensor) -> np.ndarray:
    """(C, H, W) tensor, C = 3 or 4 (or (1, C, H, W), or (H, W) / (1, H, W) grey) -> uint8 (H, W, C);
    floats are read as [0, 1]: clamped, rounded half up.  The inverse of `to_tensor`."""
    t = t.detach()
    if t.ndim == 4 and t.shape[0] == 1:
        t = t[0]
    if t.ndim == 2:
        t = t.unsqueeze(0)
    if t.ndim != 3 or t.shape[0] not in (1, 3, 4):
        raise ValueError(f"to_uint8 needs a (3, H, W) tensor, got shape {tuple(t.shape)}")
    if t.shape[0] == 1:
        t = t.expand(3, -1, -1)
    u = t if t.dtype == torch.uint8 else (t.clamp(0, 1) * 255 + 0.5).to(torch.uint8)
    return np.ascontiguousarray(u.permute(1, 2, 0).cpu().numpy())


def centre_crop_square(rgb: np.ndarray) -> np.ndarray:
    """The largest centred square of an (H, W[, C]) image."""
    h, w = rgb.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    return rgb[y : y + s, x : x + s]


_RESAMPLE = {
    "lanczos": Image.Resampling.LANCZOS,
    "area": Image.Resampling.BOX,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "nearest": Image.Resampling.NEAREST,
}


def resize(rgb: np.ndarray, size: tuple[int, int], resample: str = "lanczos") -> np.ndarray:
    """Resize a uint8 (H, W[, 3|4]) image to ``size`` = (width, height) with PIL (antialiased).

    ``resample``: "lanczos" (default; sharp, good both ways), "area" (box average: fast, for large
    reductions), "bilinear", "bicubic" or "nearest".
    """
    w, h = int(size[0]), int(size[1])
    if w <= 0 or h <= 0:
        raise ValueError(f"resize needs a positive (width, height), got {size}")
    if resample not in _RESAMPLE:
        raise ValueError(f"resample must be one of {', '.join(_RESAMPLE)}, got {resample!r}")
    a = np.asarray(rgb)
    if a.dtype != np.uint8:
        raise ValueError(f"resize needs a uint8 image, got {a.dtype}")
    if a.shape[1] == w and a.shape[0] == h:
        return a.copy()
    squeeze = a.ndim == 3 and a.shape[2] == 1
    im = Image.fromarray(a[..., 0] if squeeze else a)
    out = np.asarray(im.resize((w, h), _RESAMPLE[resample]))
    return out[..., None] if squeeze else out


def resize_t(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """(C, H, W) float tensor -> (C, h, w): area-average down, bicubic up (clamped to [0, 1])."""
    return resize_batch(x[None], h, w)[0]


def resize_batch(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """(N, C, H, W) float tensor -> (N, C, h, w) as `resize_t` does each image (one call for all)."""
    if x.shape[-2:] == (h, w):
        return x
    down = h <= x.shape[-2] and w <= x.shape[-1]
    y = F.interpolate(x, size=(h, w), mode="area" if down else "bicubic", align_corners=None if down else False)
    return y.clamp(0, 1)


def output_size(w: int, h: int, width: int = 0, height: int = 0, minimum: int = 1) -> tuple[int, int]:
    """The size of an output for a w x h input: ``width`` and/or ``height`` in px (0 = from the other
    side and the aspect ratio; both 0 = the input's size); a derived side is at least ``minimum``."""
    if width and height:
        return width, height
    if width:
        return width, max(minimum, round(h * width / w))
    if height:
        return max(minimum, round(w * height / h)), height
    return w, h


def check_side(name: str, value: int) -> int:
    """``value`` px as an output side named ``name`` (e.g. "--width"), or a one-line ValueError: a side is
    between `MIN_SIDE` and `MAX_OUTPUT_SIDE`."""
    if not isinstance(value, int) or isinstance(value, bool) or not MIN_SIDE <= value <= MAX_OUTPUT_SIDE:
        raise ValueError(f"{name} must be between {MIN_SIDE} and {MAX_OUTPUT_SIDE} px, got {value!r}")
    return value
