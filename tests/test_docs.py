"""Figures live in one place: the README quotes the generated benchmark docs, and the code points to docs.

* Every measured figure the README quotes (a number followed by ``dB`` or ``s`` outside code blocks) is
  one of `CLAIMS`: a phrase of the README, the doc it cites (linked in the same paragraph) and the row and
  column of that doc's table that holds the figure.  The README's number must equal the table's, rounded
  to the README's decimals.  A new figure in the README without a claim fails, as does a claim whose
  number drifted from its doc (regenerate the doc, then copy the figure).
* No comment, docstring or ``--help`` text in brushwork/ quotes a dB figure: measurements live in
  docs/choices.md and the benchmark docs, and every ``docs/FILE.md#anchor`` the code names exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Claim:
    phrase: str  # verbatim in the README; its figure is the last number in it followed by dB or s
    doc: str  # the doc it cites, relative to the repository root
    row: dict = field(hash=False)  # column -> cell text that selects the row (`*` and backticks ignored)
    column: str  # the column holding the figure


CLAIMS = [
    Claim("the default\npaints **29.36 dB**", "docs/benchmarks/paint-512.md",
          {"method": "optimize", "strokes": "2000"}, "PSNR dB"),
    Claim("`--strokes 1000` paints **28.31 dB**", "docs/benchmarks/paint-512.md",
          {"method": "optimize", "strokes": "1000"}, "PSNR dB"),
    Claim("`photo` paints **22.54 dB**", "docs/benchmarks.md", {"method": "agent", "strokes": "200"}, "PSNR dB"),
    Claim("in **0.26 s**", "docs/benchmarks.md", {"method": "agent", "strokes": "200"}, "s / image"),
    Claim("`refine` from it **26.42 dB**", "docs/benchmarks.md", {"method": "refine", "strokes": "200"}, "PSNR dB"),
    Claim("`optimize` **26.48 dB**", "docs/benchmarks.md", {"method": "optimize", "strokes": "200"}, "PSNR dB"),
    Claim("`photo-ddpg` paints **20.85 dB**", "docs/benchmarks/agents.md", {"agent": "photo-ddpg"},
          "PSNR dB, 200 strokes"),
    Claim("At 512 px it paints **29.36 dB**", "docs/benchmarks/paint-512.md",
          {"method": "optimize", "strokes": "2000"}, "PSNR dB"),
    Claim("in **9.77 s**", "docs/benchmarks/paint-512.md", {"method": "optimize", "strokes": "2000"}, "s / image"),
    Claim("**13.5 s** as a whole", "docs/benchmarks/detail-targets.md", {"cell": "default"}, "s / image"),
    Claim("4,000 strokes at\n**28.38 dB**", "docs/benchmarks/paint-512-methods.md",
          {"method": "agent", "strokes": "4000"}, "PSNR dB"),
    Claim("**28.38 dB** in **3.83 s**", "docs/benchmarks/paint-512-methods.md",
          {"method": "agent", "strokes": "4000"}, "s / image"),
]

#: README phrases whose number is a limit or a setting, not a measurement (so they cite no doc).
NOT_FIGURES = [
    "those over ~5 s are marked",  # the `slow` marker's threshold
]

FIGURE = re.compile(r"(\d[\d,]*(?:\.\d+)?)\**\s*(dB|s)\b")


def prose(text: str) -> str:
    """``text`` with fenced code blocks blanked (commands there are examples, not figures); lines keep
    their numbers."""
    return re.sub(r"^```.*?^```", lambda m: "\n" * m.group().count("\n"), text, flags=re.S | re.M)


def tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """Every markdown table of ``text`` as (headers, rows of cells)."""
    out, lines = [], text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("|") and i + 1 < len(lines) and re.match(r"^\|[\s:|-]+\|$", lines[i + 1]):
            headers = [c.strip() for c in lines[i].strip("|").split("|")]
            rows, i = [], i + 2
            while i < len(lines) and lines[i].startswith("|"):
                rows.append([c.strip() for c in lines[i].strip("|").split("|")])
                i += 1
            out.append((headers, rows))
        else:
            i += 1
    return out


def bare(cell: str) -> str:
    return cell.replace("*", "").replace("`", "").strip()


def doc_figure(text: str, row: dict, column: str) -> float | None:
    """The number in ``column`` of the first table row whose cells match ``row``, or None."""
    for headers, rows in tables(text):
        if column not in headers or not all(k in headers for k in row):
            continue
        for cells in rows:
            if all(bare(cells[headers.index(k)]) == v for k, v in row.items()):
                number = re.search(r"-?\d[\d,]*(?:\.\d+)?", bare(cells[headers.index(column)]))
                return float(number.group().replace(",", "")) if number else None
    return None


def check_readme(readme: str, root: Path = ROOT, claims: list[Claim] = CLAIMS) -> list[str]:
    """Every disagreement between the README's figures and the docs they cite (empty: all agree)."""
    problems = []
    paragraphs = prose(readme).split("\n\n")
    claimed = []
    for c in claims:
        where = [p for p in paragraphs if c.phrase in p]
        if not where:
            problems.append(f"README no longer says {c.phrase!r}")
            continue
        if f"]({c.doc}" not in where[0]:
            problems.append(f"{c.phrase!r}: its paragraph does not link {c.doc}")
        quoted = FIGURE.findall(c.phrase)
        if not quoted:
            problems.append(f"{c.phrase!r} holds no figure")
            continue
        text, _ = quoted[-1]
        decimals = len(text.partition(".")[2])
        value = float(text.replace(",", ""))
        actual = doc_figure((root / c.doc).read_text(), c.row, c.column)
        if actual is None:
            problems.append(f"{c.phrase!r}: no row {c.row} with a column {c.column!r} in {c.doc}")
        elif round(actual, decimals) != value:
            problems.append(f"{c.phrase!r}: {c.doc} says {actual} ({c.row}, {c.column!r})")
        claimed.append(c.phrase)
    # every figure of the README's prose belongs to a claim
    text = prose(readme)
    covered = [(m.start(), m.start() + len(p)) for p in claimed + NOT_FIGURES for m in re.finditer(re.escape(p), text)]
    for m in FIGURE.finditer(text):
        if not any(a <= m.start() and m.end() <= b for a, b in covered):
            line = text[: m.start()].count("\n") + 1
            problems.append(f"README figure {m.group()!r} (line {line}) cites no generated doc: add a claim")
    return problems


def test_readme_figures_match_the_docs_they_cite():
    assert check_readme((ROOT / "README.md").read_text()) == []


def test_a_wrong_figure_in_the_readme_fails(tmp_path):
    readme = (ROOT / "README.md").read_text()
    wrong = readme.replace("`photo` paints **22.54 dB**", "`photo` paints **21.5 dB**")
    assert wrong != readme
    problems = check_readme(wrong)
    assert any("21.5 dB" in p for p in problems), problems  # no claim matches the old phrase any more
    # the claim's phrase kept, the number changed in a copy of the cited doc instead
    (tmp_path / "docs" / "benchmarks").mkdir(parents=True)
    for c in {c.doc for c in CLAIMS}:
        (tmp_path / c).write_text((ROOT / c).read_text())
    doc = tmp_path / "docs/benchmarks.md"
    doc.write_text(doc.read_text().replace("| 0.00830 | 22.54 |", "| 0.00830 | 22.45 |"))
    problems = check_readme(readme, tmp_path)
    assert problems == ["'`photo` paints **22.54 dB**': docs/benchmarks.md says 22.45 "
                        "({'method': 'agent', 'strokes': '200'}, 'PSNR dB')"]


def test_an_unclaimed_figure_in_the_readme_fails():
    readme = (ROOT / "README.md").read_text() + "\nThe agent paints 23.1 dB ([docs/benchmarks.md](docs/benchmarks.md)).\n"
    line = readme[:readme.index("23.1 dB")].count("\n") + 1
    assert check_readme(readme) == [f"README figure '23.1 dB' (line {line}) cites no generated doc: add a claim"]


def test_a_missing_link_fails():
    readme = (ROOT / "README.md").read_text().replace("([docs/benchmarks/agents.md](docs/benchmarks/agents.md))", "")
    assert check_readme(readme) == ["'`photo-ddpg` paints **20.85 dB**': its paragraph does not link "
                                    "docs/benchmarks/agents.md"]


def code_texts():
    """(path, line number, line) of every line of brushwork/**/*.py except the benchmarks' report code."""
    for path in sorted((ROOT / "brushwork").rglob("*.py")):
        if "bench" in path.relative_to(ROOT / "brushwork").parts:
            continue
        for i, line in enumerate(path.read_text().splitlines(), 1):
            yield path.relative_to(ROOT), i, line


def test_code_quotes_no_measured_db_figures():
    # a number followed by dB in a comment, docstring or help text; f-strings that format a PSNR are output
    found = [f"{p}:{i}: {line.strip()}" for p, i, line in code_texts()
             if re.search(r"\d\s?dB\b", line) and not re.search(r"\{[^}]*\}\s?dB", line)]
    assert found == [], "measured figures belong in docs/choices.md:\n" + "\n".join(found)


def anchors(text: str) -> set[str]:
    """GitHub's anchors of the headings of a markdown text."""
    out = set()
    for h in re.findall(r"^#+\s+(.*)$", text, flags=re.M):
        out.add(re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-"))
    return out


def test_doc_links_in_the_code_resolve():
    bad = []
    for p, i, line in code_texts():
        for doc, anchor in re.findall(r"(docs/[\w/.-]+\.md)(?:#([\w-]+))?", line):
            target = ROOT / doc
            if not target.exists() or (anchor and anchor not in anchors(target.read_text())):
                bad.append(f"{p}:{i}: {doc}#{anchor}")
    assert bad == []


def test_the_512px_summary_in_benchmarks_md_matches_its_report():
    # docs/benchmarks.md's notes repeat paint-512.md's means; every cell must be the generated one
    summary = [t for t in tables((ROOT / "docs/benchmarks.md").read_text()) if t[0][-1] == "peak RSS MiB"]
    assert len(summary) == 1
    headers, rows = summary[0]
    report = (ROOT / "docs/benchmarks/paint-512.md").read_text()
    assert len(rows) == 5
    for cells in rows:
        strokes = cells[0].split()[0]
        for column in ("PSNR dB", "SSIM", "s / image"):
            assert float(cells[headers.index(column)]) == doc_figure(report, {"strokes": strokes}, column), (strokes, column)
        assert float(cells[-1]) == doc_figure(report, {"strokes": strokes}, "peak RSS MiB (Δ)"), strokes


def test_links_to_choices_md_sections_resolve():
    # the docs and the README link docs/choices.md's sections by anchor, as the code does
    known = anchors((ROOT / "docs/choices.md").read_text())
    bad = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for anchor in re.findall(r"choices\.md#([\w-]+)", path.read_text()):
            if anchor not in known:
                bad.append(f"{path.relative_to(ROOT)}: choices.md#{anchor}")
    assert bad == []
