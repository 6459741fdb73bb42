"""Targets an agent trains and is judged on: a dataset by name or folder, or a synthetic family."""

from __future__ import annotations


def open_data(args, split: str, seed: int):
    """The image source for ``args.data`` (training ``Args``: data, size, shape, data_root) and ``split``
    ("train" / "test"): a synthetic family ("solid", "strokes") or `brushwork.data.open_source`."""
    if args.data in ("solid", "strokes"):
        from ..stroke.synthetic import SyntheticSource

        return SyntheticSource(args.data, args.size, args.shape)
    from ..data import open_source

    return open_source(args.data, args.size, split, root=args.data_root, seed=seed)
