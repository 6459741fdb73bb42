"""Benchmarks, each regenerating its report with one command.

    brushwork bench renderers        # renderer fidelity and speed -> docs/benchmarks/renderers.md
    brushwork bench paint            # painting quality and cost on the dev photos -> docs/benchmarks.md
    brushwork bench training         # agent env steps/s and updates/s, small vs paper -> docs/benchmarks/training.md
    brushwork bench scaling          # time and memory of the default painting by output size -> docs/benchmarks/scaling.md
    brushwork bench seams            # error along tile borders against the interior -> docs/benchmarks/seams.md
    brushwork bench media            # PSNR, SSIM, time per brush medium, resvg vs PNG -> docs/benchmarks/media.md

``renderers``: PSNR of alpha maps against the reference rasteriser on held-out random strokes, and
seconds per 1,000 strokes (forward, forward+backward), for every shape and renderer.
``paint``: MSE, PSNR, SSIM, seconds per image and peak memory per method and stroke budget, next to
the paper-size configuration painting the same images in the same run, and the paper's divide pipeline
(method ``divide``, row "agent (paper divide)"; ``--no-divide`` leaves it out).
``seams``: the error along each tiling's tile borders (auto, shifted, overlap, paper) against the interior.
Both need the ``bench`` extra (``pip install brushwork[bench]``: scikit-image, matplotlib) for SSIM
and plots.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import tyro

from .media import MediaArgs
from .media import run as run_media
from .paint import PaintBenchArgs, paper_paint  # noqa: F401  (paper_paint: the paper-size loop)
from .paint import run as run_paint
from .renderers import RenderersArgs
from .renderers import run as run_renderers
from .scaling import ScalingArgs
from .scaling import run as run_scaling
from .seams import SeamsArgs
from .seams import run as run_seams
from .training import TrainingBenchArgs
from .training import run as run_training


@dataclass
class Args:
    """Benchmarks: renderers, paint, training, scaling, seams, media."""

    bench: tyro.conf.OmitSubcommandPrefixes[
        Annotated[RenderersArgs, tyro.conf.subcommand("renderers", description=RenderersArgs.__doc__)]
        | Annotated[PaintBenchArgs, tyro.conf.subcommand("paint", description=PaintBenchArgs.__doc__)]
        | Annotated[TrainingBenchArgs, tyro.conf.subcommand("training", description=TrainingBenchArgs.__doc__)]
        | Annotated[ScalingArgs, tyro.conf.subcommand("scaling", description=ScalingArgs.__doc__)]
        | Annotated[SeamsArgs, tyro.conf.subcommand("seams", description=SeamsArgs.__doc__)]
        | Annotated[MediaArgs, tyro.conf.subcommand("media", description=MediaArgs.__doc__)]
    ]  # the benchmark to run


def main(args: Args) -> int:
    b = args.bench if isinstance(args, Args) else args
    if isinstance(b, RenderersArgs):
        run_renderers(b)
    elif isinstance(b, PaintBenchArgs):
        run_paint(b)
    elif isinstance(b, TrainingBenchArgs):
        run_training(b)
    elif isinstance(b, ScalingArgs):
        run_scaling(b)
    elif isinstance(b, SeamsArgs):
        run_seams(b)
    elif isinstance(b, MediaArgs):
        run_media(b)
    else:
        raise ValueError(f"unknown benchmark {type(b).__name__}")
    return 0
