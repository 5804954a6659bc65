"""HTML pieces of the page: the shell with its navigation, tables, pictures, the filterable
list. Everything a user's file can put on the page (ids, strategy names, sentences, paths)
is escaped here; the page loads nothing from anywhere (no CDN, no fonts, no favicon fetch).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence

import pandas as pd

Cell = Callable[[object], str]
MISSING = "\u2013"  # an en dash where a number is not known (yet)

STYLE = """
body{font-family:system-ui,sans-serif;margin:0;color:#222;background:#fff}
header{background:#23395d;color:#fff;padding:.6em 1.5em}
header h1{font-size:1.2em;margin:.2em 0}
nav a{color:#fff;margin-right:1.2em;text-decoration:none;font-weight:600}
nav a.here{border-bottom:3px solid #f5b700}
.meta{font-size:.85em;opacity:.85;margin:.3em 0 0}
main{padding:1em 1.5em;max-width:1500px}
h2{margin-top:1.4em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
td,th{padding:3px 8px;border-bottom:1px solid #e4e4e4;text-align:right;vertical-align:top}
th{background:#f3f5f8}
td.text,th.text{text-align:left}
img{max-width:100%;display:block;margin:.6em 0}
.note{color:#555;font-size:.9em}
.problem{background:#fff3cd;border:1px solid #e0c36b;padding:.6em 1em}
.filters{margin:.6em 0}
.filters input,.filters select{margin-right:.6em;padding:2px 4px}
.scroll{max-height:75vh;overflow:auto;border:1px solid #eee}
.scroll td.text{white-space:nowrap}
.scroll td.long{white-space:normal;min-width:24em}
"""


def escape(value: object) -> str:
    return html.escape(str(value), quote=True)


def is_missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return False


def number(places: int = 0) -> Cell:
    return lambda v: MISSING if is_missing(v) else f"{float(v):,.{places}f}"  # type: ignore[arg-type]


def percent(places: int = 1) -> Cell:
    return lambda v: MISSING if is_missing(v) else f"{float(v):.{places}%}"  # type: ignore[arg-type]


def text(value: object) -> str:
    return MISSING if is_missing(value) else str(value)


def table(
    frame: pd.DataFrame,
    cells: Mapping[str, Cell] | None = None,
    labels: Mapping[str, str] | None = None,
    text_columns: Sequence[str] = (),
    long_columns: Sequence[str] = (),
    table_id: str | None = None,
    row_data: Sequence[str] = (),
) -> str:
    """A table of `frame` with each column formatted by `cells` (plain text otherwise);
    `row_data` columns become data-* attributes of each row (the list's filter reads them)."""
    cells, labels = cells or {}, labels or {}
    columns = list(frame.columns)
    kinds = {
        c: ' class="text long"'
        if c in long_columns
        else ' class="text"'
        if c in text_columns
        else ""
        for c in columns
    }
    head = "".join(f"<th{kinds[c]}>{escape(labels.get(c, c))}</th>" for c in columns)
    formats = [cells.get(c, text) for c in columns]
    data = [frame[c].astype("object").tolist() for c in columns]
    attributes = [frame[c].astype("object").tolist() for c in row_data]
    rows = []
    for index in range(len(frame)):
        attrs = "".join(
            f' data-{name.replace("_", "-")}="{escape(text(values[index]))}"'
            for name, values in zip(row_data, attributes, strict=True)
        )
        body = "".join(
            f"<td{kinds[c]}>{escape(fmt(values[index]))}</td>"
            for c, fmt, values in zip(columns, formats, data, strict=True)
        )
        rows.append(f"<tr{attrs}>{body}</tr>")
    ident = f' id="{escape(table_id)}"' if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def picture(uri: str, alt: str) -> str:
    return f'<img src="{uri}" alt="{escape(alt)}">'


def paragraph(line: str, kind: str | None = None) -> str:
    css = f' class="{kind}"' if kind else ""
    return f"<p{css}>{escape(line)}</p>"


def heading(title: str) -> str:
    return f"<h2>{escape(title)}</h2>"


def problem(message: str) -> str:
    return f'<div class="problem">{escape(message)}</div>'


def filters(table_id: str, choices: Mapping[str, Sequence[str]]) -> str:
    """A text box and one select per column over the table's rows, in plain inline script
    (run once the table is parsed): a row stays visible when it contains the text and
    matches every chosen value."""
    selects = "".join(
        f'<select data-filter="{escape(column.replace("_", "-"))}" '
        f'aria-label="{escape(column)}"><option value="">every {escape(column)}</option>'
        + "".join(f'<option value="{escape(v)}">{escape(v)}</option>' for v in values)
        + "</select>"
        for column, values in choices.items()
    )
    script = (
        "document.addEventListener('DOMContentLoaded',function(){"
        "var t=document.getElementById('" + table_id + "');"
        "var rows=Array.prototype.slice.call(t.tBodies[0].rows);"
        "var box=document.getElementById('" + table_id + "-text');"
        "var picks=Array.prototype.slice.call(document.querySelectorAll("
        "'#" + table_id + "-filters select'));"
        "var shown=document.getElementById('" + table_id + "-shown');"
        "function key(s){return s.dataset.filter.replace(/-([a-z])/g,"
        "function(m,c){return c.toUpperCase();});}"
        "function apply(){var q=box.value.toLowerCase(),n=0;"
        "rows.forEach(function(r){var ok=!q||r.textContent.toLowerCase().indexOf(q)>=0;"
        "picks.forEach(function(s){if(s.value&&r.dataset[key(s)]!==s.value){ok=false;}});"
        "r.hidden=!ok;if(ok){n++;}});"
        "shown.textContent=n.toLocaleString('en')+' of '+rows.length.toLocaleString('en')"
        "+' rows shown';}"
        "box.addEventListener('input',apply);"
        "picks.forEach(function(s){s.addEventListener('change',apply);});apply();});"
    )
    return (
        f'<div class="filters" id="{table_id}-filters">'
        f'<input type="search" id="{table_id}-text" placeholder="any text (user id, reason ...)"'
        f' aria-label="filter by text">{selects}<span id="{table_id}-shown"></span></div>'
        f"<script>{script}</script>"
    )


def document(
    title: str,
    sections: Sequence[tuple[str, str]],
    here: str,
    link: Callable[[str], str],
    meta: str,
    body: str,
) -> str:
    """A whole page: header with the navigation between sections, then `body`."""
    nav = "".join(
        f'<a href="{escape(link(name))}"{" class=here" if name == here else ""}>{escape(label)}</a>'
        for name, label in sections
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>Winback: {escape(title)}</title><link rel='icon' href='data:,'>"
        f"<style>{STYLE}</style></head><body><header><h1>Winback operations</h1>"
        f"<nav>{nav}</nav><p class='meta'>{escape(meta)}</p></header>"
        f"<main id='section-{escape(here)}'>{body}</main></body></html>\n"
    )


def waiting(title: str, message: str, seconds: int) -> str:
    """Shown while the figures are computed for the first time; reloads itself."""
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta http-equiv='refresh' content='{seconds}'><link rel='icon' href='data:,'>"
        f"<title>Winback: {escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<main><h2>{escape(title)}</h2><p>{escape(message)}</p></main></body></html>\n"
    )
