"""brushwork: paint any image with brush strokes (Learning to Paint, rebuilt and extended)."""

__version__ = "0.1.0"
