"""HTML pieces of the page: the shell with its navigation, tables, pictures, the filterable
list. Everything a user's file can put on the page (ids, strategy names, sentences, paths)
is escaped here; the page loads nothing from anywhere (no CDN, no fonts, no favicon fetch).
"""

from __future__ import annotations

import html
import json
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
.scroll td{white-space:nowrap}
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


def _classes(
    columns: Sequence[str], text_columns: Sequence[str], long_columns: Sequence[str]
) -> dict[str, str]:
    return {
        c: "text long" if c in long_columns else "text" if c in text_columns else ""
        for c in columns
    }


def _cells(frame: pd.DataFrame, cells: Mapping[str, Cell]) -> list[list[str]]:
    """Every cell as display text, row by row (not yet escaped)."""
    columns = [
        [cells.get(c, text)(value) for value in frame[c].astype("object").tolist()]
        for c in frame.columns
    ]
    return [list(row) for row in zip(*columns, strict=True)] if columns else []


def _head(columns: Sequence[str], labels: Mapping[str, str], classes: Mapping[str, str]) -> str:
    return "".join(f'<th class="{classes[c]}">{escape(labels.get(c, c))}</th>' for c in columns)


def table(
    frame: pd.DataFrame,
    cells: Mapping[str, Cell] | None = None,
    labels: Mapping[str, str] | None = None,
    text_columns: Sequence[str] = (),
    long_columns: Sequence[str] = (),
) -> str:
    """A table of `frame` with each column formatted by `cells` (plain text otherwise)."""
    columns = list(frame.columns)
    classes = _classes(columns, text_columns, long_columns)
    rows = "".join(
        "<tr>"
        + "".join(
            f'<td class="{classes[c]}">{escape(v)}</td>' for c, v in zip(columns, row, strict=True)
        )
        + "</tr>"
        for row in _cells(frame, cells or {})
    )
    head = _head(columns, labels or {}, classes)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


# Filters the list's rows (JSON in the page) and draws the first matches with textContent,
# so no cell is ever parsed as HTML and thousands of rows cost no layout until asked for.
_FILTER_SCRIPT = """document.addEventListener('DOMContentLoaded',function(){
var id=%(id)s,data=JSON.parse(document.getElementById(id+'-data').textContent);
var body=document.querySelector('#'+id+' tbody'),box=document.getElementById(id+'-text');
var picks=Array.prototype.slice.call(document.querySelectorAll('#'+id+'-filters select'));
var shown=document.getElementById(id+'-shown');
var haystack=null;
function apply(){var q=box.value.toLowerCase(),n=0,rows=[];
if(q&&!haystack){haystack=data.rows.map(function(r){return r.join(' ').toLowerCase();});}
var want=picks.filter(function(s){return s.value;}).map(function(s){
return [data.columns.indexOf(s.dataset.column),s.value];});
data.rows.forEach(function(r,i){if(q&&haystack[i].indexOf(q)<0){return;}
for(var k=0;k<want.length;k++){if(r[want[k][0]]!==want[k][1]){return;}}
n++;if(rows.length<data.limit){rows.push(r);}});
var fresh=document.createElement('tbody');rows.forEach(function(r){
var tr=fresh.insertRow();r.forEach(function(v,c){var td=tr.insertCell();
td.textContent=v;td.className=data.classes[c];});});
body.parentNode.replaceChild(fresh,body);body=fresh;
shown.textContent=n.toLocaleString('en')+' of '+data.rows.length.toLocaleString('en')+
' rows match'+(n>rows.length?'; the first '+rows.length+' are shown':'');}
box.addEventListener('input',apply);
picks.forEach(function(s){s.addEventListener('change',apply);});apply();});"""


def filtered_table(
    table_id: str,
    frame: pd.DataFrame,
    filter_columns: Sequence[str],
    limit: int,
    cells: Mapping[str, Cell] | None = None,
    labels: Mapping[str, str] | None = None,
    text_columns: Sequence[str] = (),
    long_columns: Sequence[str] = (),
) -> str:
    """A text box and one select per filter column over `frame`'s rows, which travel as JSON
    in the page; the first `limit` rows that contain the text and match every chosen value
    are drawn (vanilla inline script, nothing loaded)."""
    columns = list(frame.columns)
    classes = _classes(columns, text_columns, long_columns)
    rows = _cells(frame, cells or {})
    selects = "".join(
        f'<select data-column="{escape(column)}" aria-label="{escape(column)}">'
        f'<option value="">every {escape(labels.get(column, column) if labels else column)}'
        "</option>"
        + "".join(
            f'<option value="{escape(v)}">{escape(v)}</option>'
            for v in sorted(set(frame[column].map(text)))
        )
        + "</select>"
        for column in filter_columns
        if column in columns
    )
    payload = json.dumps(
        {"columns": columns, "classes": [classes[c] for c in columns], "rows": rows, "limit": limit}
    ).replace("<", "\\u003c")  # no "</script>" can end the data early
    script = _FILTER_SCRIPT % {"id": json.dumps(table_id)}
    head = _head(columns, labels or {}, classes)
    return (
        f'<div class="filters" id="{table_id}-filters">'
        f'<input type="search" id="{table_id}-text" placeholder="any text (user id, reason ...)"'
        f' aria-label="filter by text">{selects}<span id="{table_id}-shown"></span></div>'
        f'<div class="scroll"><table id="{table_id}"><thead><tr>{head}</tr></thead>'
        "<tbody></tbody></table></div>"
        f'<script type="application/json" id="{table_id}-data">{payload}</script>'
        f"<script>{script}</script>"
    )


def picture(uri: str, alt: str) -> str:
    return f'<img src="{uri}" alt="{escape(alt)}">'


def paragraph(line: str, kind: str | None = None) -> str:
    css = f' class="{kind}"' if kind else ""
    return f"<p{css}>{escape(line)}</p>"


def heading(title: str) -> str:
    return f"<h2>{escape(title)}</h2>"


def problem(message: str) -> str:
    return f'<div class="problem">{escape(message)}</div>'


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
