"""Blocks to Markdown and HTML: pandas lays out tables, cells cannot break them, CSVs beside."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from harness.report.render import Bullets, Heading, Image, Table, Text, to_html, to_markdown, write_document

FRAME = pd.DataFrame({"Variant": ["a", "b"], "Reason": ["x | y", "**best**"]})


def test_markdown_tables_escape_pipes_and_link_their_csv() -> None:
    text = to_markdown([Heading("Results"), Table(FRAME, "t.csv")])
    assert text.startswith("## Results\n\n| Variant")
    assert "x \\| y" in text and "CSV: [t.csv](t.csv)" in text


def test_markdown_of_every_block_kind() -> None:
    text = to_markdown([Text("plain"), Bullets(("one", "two")), Image("f.png", "a figure"),
                        Table(FRAME.iloc[:0])])
    assert text == "plain\n\n- one\n- two\n\n![a figure](f.png)\n\n_(no rows)_\n"


def test_html_converts_inline_marks_and_escapes_the_rest() -> None:
    page = to_html([Text("**win** by `x` <b>, see [csv](t.csv)"), Table(FRAME)], "title")
    assert "<strong>win</strong> by <code>x</code> &lt;b&gt;" in page and '<a href="t.csv">csv</a>' in page
    assert "<td><strong>best</strong></td>" in page and "<td>x | y</td>" in page


def test_header_cells_are_left_aligned_in_markdown_and_html() -> None:
    assert to_markdown([Table(FRAME)]).splitlines()[1] == "|:----------|:---------|"
    page = to_html([Table(FRAME)], "title")
    assert '<tr style="text-align: left;">' in page and "text-align: right" not in page


def test_write_document_writes_the_report_and_csvs(tmp_path: Path) -> None:
    data = pd.DataFrame({"mean": [1 / 3]}, index=pd.Index(["a"], name="variant"))
    path = write_document([Table(FRAME, "t.csv", data, index=True)], tmp_path / "out", "md", "t")
    assert path == tmp_path / "out" / "report.md"
    assert (tmp_path / "out" / "t.csv").read_text() == "variant,mean\na,0.3333333333\n"
    with pytest.raises(ValueError, match="allowed: md, html"):
        write_document([], tmp_path, "pdf", "t")
