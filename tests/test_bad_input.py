"""Bad input to the commands: one line, before any work (`brushwork paint`, `brushwork render`, stroke files)."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch
from PIL import Image

from brushwork import cli
from brushwork.painter import painting as painting_mod
from brushwork.painter.painting import MAX_JSON_BYTES_PER_STROKE, MAX_STROKES, Painting


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "in.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(path)
    return path


def one_line_error(capsys, argv: list[str], match: str) -> str:
    t0 = time.monotonic()
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert match in err, err
    assert time.monotonic() - t0 < 5, "the error came after work was done"
    return err


@pytest.mark.parametrize("argv, match", [
    (["--palette", "notacolor"], "--palette: 'notacolor' is not a colour"),
    (["--palette", "#ff0000", "transparent"], "--palette: 'transparent' is not a colour"),
    (["--width", "1"], "--width must be between 8 and 16384 px, got 1"),
    (["--height", "99999"], "--height must be between 8 and 16384 px"),
])
def test_paint_refuses_bad_options(capsys, tmp_path, photo, argv, match):
    one_line_error(capsys, ["paint", str(photo), "-o", str(tmp_path / "out.png"), "--quiet", *argv], match)


def stroke_file(tmp_path, **change) -> str:
    p = Painting("bezier", 64, 48, torch.rand(5, 13), torch.tensor([0.0, 0.0, 64.0]).expand(5, 3).contiguous())
    data = {**p.to_json(), **change}
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data))
    return str(path)


@pytest.mark.parametrize("change, match", [
    ({"width": 10**9}, "width must be between 8 and 16384 px, got 1000000000"),
    ({"height": 0}, "height must be between 8 and 16384 px"),
    ({"width": "wide"}, "width must be between"),
])
def test_render_checks_the_sizes_inside_a_stroke_file(capsys, tmp_path, change, match):
    one_line_error(capsys, ["render", stroke_file(tmp_path, **change), "-o", str(tmp_path / "o.png")], match)


def test_render_size_is_checked_like_width(capsys, tmp_path):
    one_line_error(capsys, ["render", stroke_file(tmp_path), "-o", str(tmp_path / "o.png"), "--size", "4x4"],
                   "--size must be between 8 and 16384 px, got 4")


def test_a_stroke_file_too_large_is_refused_before_it_is_read(capsys, tmp_path):
    path = tmp_path / "huge.json"
    with open(path, "wb") as f:  # sparse: its size says it holds more strokes than any painting
        f.truncate((MAX_STROKES + 1) * MAX_JSON_BYTES_PER_STROKE + 1)
    one_line_error(capsys, ["render", str(path), "-o", str(tmp_path / "o.png")], "the most a painting holds")


def test_a_stroke_file_too_large_to_parse_here_is_refused(capsys, tmp_path, monkeypatch):
    path = stroke_file(tmp_path)
    monkeypatch.setattr("brushwork.device.available_memory", lambda: 1000)
    one_line_error(capsys, ["render", path, "-o", str(tmp_path / "o.png")], "GiB is available")


def test_a_parsed_stroke_list_over_the_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(painting_mod, "MAX_STROKES", 3)
    with pytest.raises(ValueError, match="5 strokes; a painting holds at most 3"):
        Painting.from_json(json.loads(open(stroke_file(tmp_path)).read()))


def test_a_good_stroke_file_still_renders(tmp_path):
    out = tmp_path / "o.png"
    assert cli.main(["render", stroke_file(tmp_path), "-o", str(out)]) == 0
    assert Image.open(out).size == (64, 48)
