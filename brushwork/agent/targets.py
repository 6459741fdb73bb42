"""Targets an agent trains and is judged on: a dataset by name or folder, or a synthetic family."""

from __future__ import annotations


def open_data(args, split: str, seed: int):
    """The image source for ``args.data`` (training ``Args``: data, size, shape, data_root, min_crop) and
    ``split`` ("train" / "test"): a synthetic family ("solid", "strokes") or `brushwork.data.open_source`."""
    if args.data in ("solid", "strokes"):
        from ..stroke.synthetic import SyntheticSource

        return SyntheticSource(args.data, args.size, args.shape)
    from ..data import open_source
    from .policy import WHOLE_IMAGE_DATASETS

    # Crop scale applies to folder data (photos, faces, a path), not to the digit arrays; held-out crops keep
    # the default range so every run is judged on the same images.
    kwargs = {}
    if split == "train" and args.data.strip().lower() not in WHOLE_IMAGE_DATASETS:
        kwargs["min_crop"] = getattr(args, "min_crop", 0.25)
    return open_source(args.data, args.size, split, root=args.data_root, seed=seed, **kwargs)
