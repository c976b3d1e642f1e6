"""Writing a report: a list of blocks (headings, text, tables, figures) as Markdown or HTML.

Sections build blocks; this module lays them out. Tables are laid out by pandas (`to_markdown`,
`to_html`), never by hand; each table that has a CSV name is also written as CSV beside the
report. Text uses three inline marks, `**bold**`, `` `code` `` and `[text](link)`, which HTML
output converts.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

FORMATS = ("md", "html")
CSV_FLOAT = "%.10g"  # full enough for other tools, stable against last-digit noise between library versions


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    display: pd.DataFrame  # what the reader sees
    csv_name: str | None = None  # also written as <csv_name>, from `data` (or `display`)
    data: pd.DataFrame | None = None
    index: bool = False  # write the data's index into the CSV


@dataclass(frozen=True)
class Image:
    path: str  # relative to the report
    alt: str


Block = Heading | Text | Bullets | Table | Image


def md_cell(value: object) -> str:
    """A cell that cannot break the table: pipes escaped, newlines flattened."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(table: Table) -> str:
    text = table.display.map(md_cell).to_markdown(index=False, disable_numparse=True)
    if table.csv_name:
        text += f"\n\nCSV: [{table.csv_name}]({table.csv_name})"
    return text


def to_markdown(blocks: list[Block]) -> str:
    parts = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append("#" * block.level + " " + block.text)
        elif isinstance(block, Text):
            parts.append(block.text)
        elif isinstance(block, Bullets):
            parts.append("\n".join(f"- {item}" for item in block.items))
        elif isinstance(block, Table):
            parts.append(markdown_table(block) if len(block.display) else "_(no rows)_")
        elif isinstance(block, Image):
            parts.append(f"![{block.alt}]({block.path})")
    return "\n\n".join(parts) + "\n"


INLINE = [(re.compile(r"\*\*(.+?)\*\*"), r"<strong>\1</strong>"), (re.compile(r"`(.+?)`"), r"<code>\1</code>"),
          (re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)"), r'<a href="\2">\1</a>')]


def inline_html(text: str) -> str:
    out = html.escape(str(text), quote=False)
    for pattern, replacement in INLINE:
        out = pattern.sub(replacement, out)
    return out


def html_block(block: Block) -> str:
    if isinstance(block, Heading):
        return f"<h{block.level}>{inline_html(block.text)}</h{block.level}>"
    if isinstance(block, Text):
        return f"<p>{inline_html(block.text)}</p>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{inline_html(item)}</li>" for item in block.items) + "</ul>"
    if isinstance(block, Table):
        # pandas right-aligns header cells by default; the cells below them are text, read from the left.
        table = block.display.map(inline_html).to_html(index=False, escape=False, border=0, classes="report",
                                                       justify="left")
        link = f'<p>CSV: <a href="{block.csv_name}">{block.csv_name}</a></p>' if block.csv_name else ""
        return table + link
    return f'<img src="{html.escape(block.path)}" alt="{html.escape(block.alt)}">'


STYLE = ("body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
         "table.report{border-collapse:collapse;font-size:90%}"
         "table.report td,table.report th{border:1px solid #ccc;padding:3px 6px;text-align:left}img{max-width:100%}")


def to_html(blocks: list[Block], title: str) -> str:
    body = "\n".join(html_block(block) for block in blocks)
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n")


def write_document(blocks: list[Block], out_dir: Path, fmt: str, title: str) -> Path:
    """report.md or report.html in `out_dir`, and the CSV of every table that names one."""
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r}; allowed: {', '.join(FORMATS)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    for block in blocks:
        if isinstance(block, Table) and block.csv_name:
            data = block.display if block.data is None else block.data
            data.to_csv(out_dir / block.csv_name, index=block.index, lineterminator="\n", float_format=CSV_FLOAT)
    path = out_dir / f"report.{fmt}"
    path.write_text(to_markdown(blocks) if fmt == "md" else to_html(blocks, title), encoding="utf-8")
    return path
