"""The data block of a LAS file, parsed from the bytes at its offset (no decoding of the whole file).

:func:`locate` finds the log data section (``~A`` in LAS 1.2/2.0, ``~Log_Data`` or ``~A`` in
LAS 3.0) in a memory map of the file and returns the header text before it, the section's own
line and the byte range of its rows. :func:`parse_block` turns those bytes into a float64 array
with Arrow's CSV reader and float parser (correctly rounded: values bit-identical to lasio's);
single-delimiter rows are read column-wise directly, padded rows through a whitespace split.
Rows whose value count differs, text values and comment lines raise :class:`Irregular` so the
caller can take a slower, more tolerant path.

The delimiter comes from ``DLM`` in ``~Version`` (SPACE, COMMA, TAB, SEMICOLON); without it,
data whose first row holds commas are read as comma-delimited when every row splits evenly.
"""

from __future__ import annotations

import mmap
import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

DELIMITERS = {"SPACE": None, "COMMA": ",", "TAB": "\t", "SEMICOLON": ";", "SEMI-COLON": ";"}
_DATA_SECTION = re.compile(rb"^[ \t]*~(A|LOG_DATA)", re.M | re.I)
_DLM = re.compile(r"^[ \t]*DLM\s*\.[^\S\n]*(\S+)", re.M | re.I)
_THREADS_ABOVE = 16 << 20           # bytes of rows above which Arrow uses its thread pool


class Irregular(Exception):
    """The block needs a more tolerant reader (text values, comments, uneven rows)."""


@dataclass
class Layout:
    """Where a LAS file's log data is: the header before it and the byte range of its rows."""

    header: bytes                   # the bytes before the data section's line
    section_line: str               # the data section's own line ("~A  DEPT GR ...")
    first_line: int                 # 1-based line number of the first row
    start: int                      # byte offsets of the rows
    end: int
    size: int                       # file size

    @property
    def later_sections(self) -> bool:
        return self.end < self.size


def locate(mm: mmap.mmap | bytes) -> Layout | None:
    """The log data section of a mapped LAS file, or None when it has none."""
    m = _DATA_SECTION.search(mm)
    if m is None:
        return None
    nl = mm.find(b"\n", m.start())
    start = len(mm) if nl < 0 else nl + 1
    section_line = bytes(mm[m.start(): start]).decode("latin-1").strip()
    end = _next_section(mm, start)
    header = bytes(mm[: m.start()])
    return Layout(header, section_line, header.count(b"\n") + 2, start, end, len(mm))


def _next_section(mm, start: int) -> int:
    """Offset of the next line that starts a section (``~`` after blanks), or the end."""
    pos = mm.find(b"~", start)
    while pos >= 0:
        line_start = mm.rfind(b"\n", start, pos) + 1 if pos > start else start
        if line_start < start:
            line_start = start
        if not bytes(mm[line_start:pos]).strip(b" \t"):
            return line_start
        pos = mm.find(b"~", pos + 1)
    return len(mm)


def delimiter_of(header_text: str) -> tuple[str | None, str]:
    """The data delimiter from ``DLM`` (None = whitespace) and the keyword as written."""
    m = _DLM.search(header_text)
    if not m:
        return None, ""
    word = m.group(1).upper()
    if word not in DELIMITERS:
        raise ValueError(word)
    return DELIMITERS[word], word


def sniff_delimiter(sample: bytes) -> str | None:
    """',' when the first row holds commas (a comma file without a DLM line), else None."""
    for line in sample.split(b"\n"):
        s = line.strip()
        if s and not s.startswith(b"#"):
            if b"," in s:
                return ","
            if b";" in s and len(s.split(b";")) > 2:
                return ";"
            return None
    return None


def _lines(buf: pa.Buffer, threads: bool) -> pa.ChunkedArray:
    """The rows as one string column (empty lines dropped)."""
    table = pcsv.read_csv(
        pa.BufferReader(buf),
        read_options=pcsv.ReadOptions(column_names=["row"], use_threads=threads,
                                      block_size=1 << 22),
        parse_options=pcsv.ParseOptions(delimiter="\x01", quote_char=False, escape_char=False),
        convert_options=pcsv.ConvertOptions(column_types={"row": pa.large_string()},
                                            strings_can_be_null=False))
    return table.column(0)


def _direct(buf: pa.Buffer, n_cols: int, delim: str, threads: bool) -> np.ndarray:
    """Rows with exactly one delimiter between values: Arrow parses each column as float64."""
    names = [f"c{i}" for i in range(n_cols)]
    table = pcsv.read_csv(
        pa.BufferReader(buf),
        read_options=pcsv.ReadOptions(column_names=names, use_threads=threads,
                                      block_size=1 << 22),
        parse_options=pcsv.ParseOptions(delimiter=delim, quote_char=False, escape_char=False),
        convert_options=pcsv.ConvertOptions(column_types={n: pa.float64() for n in names},
                                            strings_can_be_null=False))
    out = np.empty((table.num_rows, n_cols), dtype=np.float64, order="F")
    for j in range(n_cols):
        row = 0
        for chunk in table.column(j).chunks:    # no nulls: each chunk is a view, copied once
            out[row: row + len(chunk), j] = chunk.to_numpy(zero_copy_only=False)
            row += len(chunk)
    return out


def _split(buf: pa.Buffer, n_cols: int, delim: str | None, threads: bool) -> np.ndarray:
    """Any spacing: each row split on whitespace (or the delimiter, values trimmed)."""
    lines = _lines(buf, threads)
    out = np.empty((len(lines), n_cols), dtype=np.float64)
    row = 0
    for chunk in lines.chunks:
        s = pc.utf8_trim_whitespace(chunk)
        keep = pc.and_(pc.invert(pc.starts_with(s, "#")), pc.not_equal(s, ""))
        if not pc.all(keep).as_py():
            raise Irregular("comment or blank lines between rows")
        parts = pc.ascii_split_whitespace(s) if delim is None else pc.split_pattern(s, delim)
        span = pc.min_max(pc.list_value_length(parts))
        if span["min"].as_py() != n_cols or span["max"].as_py() != n_cols:
            raise Irregular("rows with another number of values")
        flat = parts.flatten()
        if delim is not None:
            flat = pc.utf8_trim_whitespace(flat)
        try:
            vals = pc.cast(flat, pa.float64())
        except pa.ArrowInvalid as err:
            raise Irregular(str(err)) from err
        out[row: row + len(s)] = vals.to_numpy(zero_copy_only=False).reshape(-1, n_cols)
        row += len(s)
    return out


def parse_block(buf: pa.Buffer, n_cols: int, delim: str | None) -> np.ndarray:
    """The rows of a data block as a float64 array (rows, n_cols).

    Raises :class:`Irregular` when the block needs a more tolerant reader.
    """
    threads = buf.size > _THREADS_ABOVE
    head = buf.to_pybytes()[:4096] if buf.size < 4096 else buf.slice(0, 4096).to_pybytes()
    first = head.split(b"\n", 1)[0].rstrip(b"\r")
    single = delim if delim is not None else " "
    simple = (first and first[:1] not in (b" ", b"\t") and b"#" not in head and b"\r" not in head
              and (delim is not None or (b"  " not in first and b"\t" not in first)))
    if simple:
        try:
            return _direct(buf, n_cols, single, threads)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass
    try:
        return _split(buf, n_cols, delim, threads)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
        raise Irregular(str(err)) from err


def a_line_names(section_line: str, delim: str | None) -> list[str]:
    """Column names written on the data section's own line (``~A  DEPT  GR ...``), if any."""
    rest = re.sub(r"^~\S*", "", section_line.strip()).strip()
    if not rest or "|" in rest:
        return []
    if delim is not None and delim in rest:
        names = [t.strip() for t in rest.split(delim) if t.strip()]
    else:
        names = rest.split()
    return [re.sub(r"\[[^\]]*\]$|\([^)]*\)$", "", n) or n for n in names]   # DEPT[M] -> DEPT


def column_order(curves: list[str], a_names: list[str]) -> tuple[list[int] | None, str]:
    """How the data columns map onto the ``~Curve`` list, from the names on the ``~A`` line.

    Returns ``(order, note)``: ``order[i]`` is the data column of curve ``i`` (None: as listed)
    and a note when the columns were mapped by name. Raises ValueError (message naming both
    orders) when the names contradict the ``~Curve`` order and cannot be matched one to one.
    """
    if len(a_names) != len(curves):
        return None, ""
    cu = [c.upper() for c in curves]
    au = [a.upper() for a in a_names]
    if cu == au:
        return None, ""
    pos = {a: i for i, a in enumerate(au)}
    if sorted(cu) == sorted(au) and len(set(au)) == len(au):
        order = [pos[c] for c in cu]
        moved = [c for i, c in enumerate(curves) if order[i] != i]
        return order, (f"the ~A line lists the columns in another order than the ~Curve section; "
                       f"mapped by name ({', '.join(moved)} moved)")
    if all(pos[c] == i for i, c in enumerate(cu) if c in pos):
        return None, ""           # names differ in places (DEPT/DEPTH) but none is moved
    raise ValueError(f"the ~A line names the columns in another order than the ~Curve section "
                     f"and not every name matches, so which column is which cannot be told. "
                     f"~Curve order: {' '.join(curves)}; ~A order: {' '.join(a_names)}. "
                     f"Make the ~Curve section list the curves in the order of the data columns")
