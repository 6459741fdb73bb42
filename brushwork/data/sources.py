"""Training images: ImageSource and its array / folder kinds, the held-out split, and open_source by name or path."""

from __future__ import annotations

import hashlib
import os
import warnings
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..io.images import IMAGE_SUFFIXES, ImageError, load_image
from .catalog import DATASETS, DEV_NAMES, _not_fetched, data_root, is_fetched
from .formats import _downscale

CACHE_MAX_SIDE = 512
"""Folder sources keep decoded images in RAM with at most this many pixels on the shorter side."""

CACHE_BYTES = 2 << 30
"""RAM budget (2 GiB) for a folder source's decoded images; past it, least recently used are dropped."""

PRELOAD_LIMIT = 5000
"""Folder sources with at most this many images (in the split) decode them all when opened."""


def split_of(name: str) -> Literal["train", "test"]:
    """Held-out split of a file: ``test`` when sha1(file name) % 10 == 0 (1 in 10), else ``train``.

    Uses the bare file name (not its folder), so it is stable when a folder is moved or reorganised.
    """
    return "test" if int(hashlib.sha1(name.encode("utf-8")).hexdigest(), 16) % 10 == 0 else "train"


def dev_images(root: str | os.PathLike | None = None) -> list[Path]:
    """The dev benchmark photos (scikit-image astronaut, chelsea, coffee, rocket, motorcycle_left)."""
    base = data_root(root)
    if not is_fetched("photos", base):
        raise _not_fetched("photos", base)
    paths = [base / "photos" / "skimage" / f"{n}.png" for n in DEV_NAMES]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise ValueError(f"dev photos missing from {base / 'photos'}: {', '.join(missing)}; fetch photos again")
    return paths


class ImageSource:
    """Training images of one split; ``sample(n, generator)`` -> uint8 (n, 3, size, size) RGB."""

    name: str
    size: int
    split: str

    def __init__(self, name: str, size: int, split: str, seed: int):
        if int(size) <= 0:
            raise ValueError(f"image size must be positive, got {size}")
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        self.name, self.size, self.split = name, int(size), split
        self._gen = torch.Generator().manual_seed(int(seed))

    def __len__(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, size={self.size}, split={self.split!r}, images={len(self)})"


class ArraySource(ImageSource):
    """MNIST-style grey images held as one uint8 (N, h, w) array; resized (bilinear) and made RGB."""

    def __init__(self, name: str, images: np.ndarray, size: int, split: str = "train", seed: int = 0):
        super().__init__(name, size, split, seed)
        if images.ndim != 3 or len(images) == 0:
            raise ValueError(f"{name}: expected a non-empty (N, h, w) image array, got shape {images.shape}")
        self.images = torch.from_numpy(np.ascontiguousarray(images, dtype=np.uint8))

    def __len__(self) -> int:
        return len(self.images)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        g = generator if generator is not None else self._gen
        idx = torch.randint(len(self.images), (int(n),), generator=g)
        x = self.images[idx].unsqueeze(1)
        if x.shape[-2:] != (self.size, self.size):
            down = self.size < min(x.shape[-2:])
            x = F.interpolate(x.float(), size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=down)
            x = x.round_().clamp_(0, 255).to(torch.uint8)
        return x.expand(-1, 3, -1, -1).contiguous()


class FolderSource(ImageSource):
    """Images from a folder tree: random square crops at random scales, random horizontal flips.

    Decoded images are cached in RAM with at most ``max_side`` px on the shorter side, within
    ``cache_bytes`` (least recently used dropped past it).  Up to :data:`PRELOAD_LIMIT` images are
    all decoded when the source is opened (so unreadable files are found and reported at once);
    larger folders are decoded on first use.  Unreadable files are skipped with a warning that
    counts them.  Alpha is composited onto white.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        size: int,
        split: str = "train",
        seed: int = 0,
        *,
        name: str | None = None,
        min_crop: float = 0.25,
        flip: bool = True,
        max_side: int = CACHE_MAX_SIDE,
        cache_bytes: int = CACHE_BYTES,
        preload_limit: int = PRELOAD_LIMIT,
        force_test: Iterable[str] = (),
    ):
        root = Path(root).expanduser()
        super().__init__(name or str(root), size, split, seed)
        if not 0 < min_crop <= 1:
            raise ValueError(f"min_crop must be in (0, 1], got {min_crop}")
        self.root, self.min_crop, self.flip = root, float(min_crop), bool(flip)
        self.max_side, self.cache_bytes = int(max_side), int(cache_bytes)
        if not root.exists():
            raise ValueError(f"data folder {root} does not exist")
        if not root.is_dir():
            raise ValueError(f"data folder {root} is not a folder")
        every = sorted(
            p
            for p in root.rglob("*")
            if p.suffix.lower() in IMAGE_SUFFIXES
            and not any(part.startswith(".") for part in p.relative_to(root).parts)
            and p.is_file()
        )
        if not every:
            raise ValueError(f"data folder {root} has no image files (looked for {', '.join(IMAGE_SUFFIXES)})")
        forced = {s.lower() for s in force_test}
        in_test = lambda p: p.stem.lower() in forced or split_of(p.name) == "test"  # noqa: E731
        self.files = [p for p in every if in_test(p) == (split == "test")]
        if not self.files:
            raise ValueError(
                f"data folder {root}: none of its {len(every)} images falls in the {split!r} split "
                "(1 file in 10, by a hash of its name, is held out): add more images"
            )
        self._cache: OrderedDict[Path, Image.Image] = OrderedDict()
        self._cached_bytes = 0
        self.skipped: list[str] = []  # one line per unreadable file
        if len(self.files) <= preload_limit:
            self._drop_unreadable(range(len(self.files)), total=len(self.files))
        else:  # probe a few so a folder of junk fails now, not mid-training
            self._drop_unreadable(range(min(16, len(self.files))), total=len(self.files))

    def __len__(self) -> int:
        return len(self.files)

    def _decode(self, path: Path) -> Image.Image:
        im = Image.fromarray(load_image(path).composited(255))
        return _downscale(im, self.max_side)

    def _get(self, path: Path) -> Image.Image:
        im = self._cache.get(path)
        if im is not None:
            self._cache.move_to_end(path)
            return im
        im = self._decode(path)
        self._cache[path] = im
        self._cached_bytes += im.width * im.height * 3
        while self._cached_bytes > self.cache_bytes and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            self._cached_bytes -= old.width * old.height * 3
        return im

    def _drop_unreadable(self, indices: Iterable[int], total: int) -> None:
        bad = []
        for i in indices:
            try:
                self._get(self.files[i])
            except ImageError as e:
                bad.append((i, str(e)))
        if bad:
            self._skip(bad, total)

    def _skip(self, bad: list[tuple[int, str]], total: int) -> None:
        for i, _ in sorted(bad, reverse=True):
            del self.files[i]
        self.skipped += [msg for _, msg in bad]
        if not self.files:
            raise ValueError(f"data folder {self.root}: none of its {total} image files could be read (e.g. {bad[0][1]})")
        warnings.warn(
            f"data folder {self.root}: skipped {len(bad)} unreadable image file(s) of {total} "
            f"({len(self.skipped)} so far), e.g. {bad[0][1]}",
            stacklevel=3,
        )

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        g = generator if generator is not None else self._gen
        n, S = int(n), self.size
        out = np.empty((n, S, S, 3), dtype=np.uint8)
        # Per image: which file, then (crop scale, x, y, flip) uniforms.  One draw for the batch.
        picks = torch.rand((n, 5), generator=g, dtype=torch.float64).tolist()
        for k in range(n):
            v, *u = picks[k]
            while True:
                i = min(int(v * len(self.files)), len(self.files) - 1)
                try:
                    im = self._get(self.files[i])
                    break
                except ImageError as e:  # only in large, lazily decoded folders: drop it and redraw
                    self._skip([(i, str(e))], total=len(self.files))
                    v, *u = torch.rand(5, generator=g, dtype=torch.float64).tolist()
            w, h = im.size
            side = min(w, h) * (self.min_crop + (1.0 - self.min_crop) * u[0])
            x0, y0 = u[1] * (w - side), u[2] * (h - side)
            resample = Image.Resampling.BILINEAR if side >= S else Image.Resampling.BICUBIC
            crop = im.resize((S, S), resample, box=(x0, y0, x0 + side, y0 + side), reducing_gap=2.0)
            if self.flip and u[3] < 0.5:
                crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            out[k] = np.asarray(crop)
        return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def open_source(
    spec: str,
    size: int,
    split: Literal["train", "test"] = "train",
    root: str | os.PathLike | None = None,
    seed: int = 0,
    **kwargs,
) -> ImageSource:
    """Training images by name (mnist, fashion, photos, faces) or from a folder PATH (any other spec).

    A named dataset must have been fetched (``brushwork data fetch``) into ``root`` (default
    :func:`data_root`); a folder named like a dataset is read with an explicit path (``./mnist``).
    ``kwargs`` go to :class:`FolderSource` (min_crop, flip, max_side, cache_bytes, ...).
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    key = spec.strip().lower()
    if key in DATASETS:
        base = data_root(root)
        folder = base / key
        if not is_fetched(key, base):
            raise _not_fetched(key, base)
        if key in ("mnist", "fashion"):
            try:
                images = np.load(folder / split / "images.npy")
            except (OSError, ValueError) as e:
                raise ValueError(f"{folder / split / 'images.npy'}: cannot read ({e}); fetch {key} again") from None
            return ArraySource(key, images, size, split, seed)
        force = DEV_NAMES if key == "photos" else ()
        return FolderSource(folder, size, split, seed, name=key, force_test=force, **kwargs)
    return FolderSource(Path(spec), size, split, seed, **kwargs)

