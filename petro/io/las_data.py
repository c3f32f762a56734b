"""The data block of a LAS file, parsed from the bytes at its offset (no decoding of the whole file).

:func:`locate` finds the log data section (``~A`` in LAS 1.2/2.0, ``~Log_Data`` or ``~A`` in
LAS 3.0), reading the file in chunks: the header text before it, the section's own line, the byte
range of its rows and their line count. :func:`parse_block` streams those bytes in blocks of whole
lines through Arrow's CSV reader and float parser (correctly rounded: values bit-identical to
lasio's) into one preallocated float64 array; above 16 MB the rows are split in two parts parsed
by two threads. Single-delimiter rows are read column-wise directly, padded rows through a
whitespace split. Rows whose value count differs, text values and comment lines raise
:class:`Irregular` so the caller can take a slower, more tolerant path.

The delimiter comes from ``DLM`` in ``~Version`` (SPACE, COMMA, TAB, SEMICOLON); without it,
data whose first row holds commas are read as comma-delimited when every row splits evenly.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

DELIMITERS = {"SPACE": None, "COMMA": ",", "TAB": "\t", "SEMICOLON": ";", "SEMI-COLON": ";"}
_DATA_SECTION = re.compile(rb"^[ \t]*~(A|LOG_DATA)", re.M | re.I)
_DLM = re.compile(r"^[ \t]*DLM\s*\.[^\S\n]*(\S+)", re.M | re.I)
_THREADS_ABOVE = 16 << 20           # bytes of rows above which threads > 1 splits the rows


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
    parts: list[tuple[int, int, int]]   # (start, end, newline count): ranges parsed in parallel


_CHUNK = 4 << 20


def locate(path: str, threads: int = 1) -> Layout | None:
    """The log data section of a LAS file, or None when it has none. Reads the file in chunks
    (never whole): the header, then the rows to find where they end and count them. With
    ``threads`` > 1 and more than 16 MB of rows, the rows are split in two parts."""
    size = os.path.getsize(path)
    fd = os.open(path, os.O_RDONLY)
    try:
        head, m = b"", None
        while m is None or head.find(b"\n", m.start()) < 0:
            block = os.pread(fd, 1 << 20, len(head))
            if not block:
                break
            head += block
            m = _DATA_SECTION.search(head)
        if m is None:
            return None
        nl = head.find(b"\n", m.start())
        start = size if nl < 0 else nl + 1
        section_line = head[m.start(): start].decode("latin-1").strip()
        end, n_lines = _scan_rows(fd, start, size)
        parts = [(start, end, n_lines)]
        if threads > 1 and end - start > _THREADS_ABOVE:
            mid = start + (end - start) // 2
            nl = os.pread(fd, 1 << 16, mid).find(b"\n")
            if nl >= 0:
                split = mid + nl + 1
                parts = [(a, b, _count_lines(fd, a, b)) for a, b in ((start, split), (split, end))]
    finally:
        os.close(fd)
    header = head[: m.start()]
    return Layout(header, section_line, header.count(b"\n") + 2, start, end, size, parts)


def _count_lines(fd: int, a: int, b: int) -> int:
    n, pos, last = 0, a, b"\n"
    while pos < b:
        block = os.pread(fd, min(_CHUNK, b - pos), pos)
        if not block:
            break
        n += block.count(b"\n")
        pos += len(block)
        last = block[-1:]
    return n + (last != b"\n")


def _scan_rows(fd: int, start: int, size: int) -> tuple[int, int]:
    """(offset of the next line that starts a section (``~`` after blanks) or the end, number of
    lines before it), in one pass over the rows."""
    pos, n, last = start, 0, b"\n"
    while pos < size:
        block = os.pread(fd, min(_CHUNK, size - pos), pos)
        if not block:
            break
        i = block.find(b"~")
        while i >= 0:
            line_start = block.rfind(b"\n", 0, i) + 1
            if line_start == 0 and pos > start:      # the line began in the previous block
                line_start = -1 if os.pread(fd, 1, pos - 1) != b"\n" else 0
            if line_start >= 0 and not block[line_start:i].strip(b" \t"):
                n += block.count(b"\n", 0, line_start)
                return pos + line_start, n + (line_start > 0 and block[line_start - 1:line_start]
                                              != b"\n")
            i = block.find(b"~", i + 1)
        n += block.count(b"\n")
        pos += len(block)
        last = block[-1:]
    return size, n + (pos > start and last != b"\n")


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


_BLOCK = 1 << 20          # bytes of rows parsed at a time (memory: a few blocks beside the array)
# The system allocator returns each block's memory at once; Arrow's default pools keep it (a
# large file then peaks at several times its data array).
_POOL = pa.system_memory_pool()


def _blocks(path: str, a: int, b: int):
    """Bytes ``[a, b)`` of a file as Arrow buffers of whole lines, about ``_BLOCK`` each, read
    into one reused buffer (each is parsed before the next is read)."""
    space = bytearray(_BLOCK)
    view = memoryview(space)
    with open(path, "rb", buffering=0) as fh:
        pos = a
        while pos < b:
            fh.seek(pos)
            got = fh.readinto(view[: min(_BLOCK, b - pos)])
            if not got:
                return
            k = got
            if pos + k < b:
                k = space.rfind(b"\n", 0, got) + 1
                if k == 0:
                    raise Irregular(f"a data line longer than {_BLOCK} bytes")
            yield pa.py_buffer(view[:k])
            pos += k


def _table(buf, names: list[str], delim: str, types: dict) -> pa.Table:
    return pcsv.read_csv(
        pa.BufferReader(buf),
        read_options=pcsv.ReadOptions(column_names=names, use_threads=False,
                                      block_size=_BLOCK + 1),
        parse_options=pcsv.ParseOptions(delimiter=delim, quote_char=False, escape_char=False),
        convert_options=pcsv.ConvertOptions(column_types=types, strings_can_be_null=False),
        memory_pool=_POOL)


def _direct_part(path, a, b, n_cols, delim, out, row) -> int:
    """Rows with exactly one delimiter between values: Arrow parses each column as float64."""
    names = [f"c{i}" for i in range(n_cols)]
    types = {n: pa.float64() for n in names}
    first = row
    for buf in _blocks(path, a, b):
        table = _table(buf, names, delim, types)
        n = table.num_rows
        for j in range(n_cols):                 # no nulls: each column is a view, copied once
            for chunk in table.column(j).chunks:
                out[row: row + len(chunk), j] = chunk.to_numpy(zero_copy_only=False)
        row += n
    return row - first


def _split_part(path, a, b, n_cols, delim, out, row) -> int:
    """Any spacing: each row split on whitespace (or the delimiter, values trimmed)."""
    first = row
    for buf in _blocks(path, a, b):
        lines = _table(buf, ["row"], "\x01", {"row": pa.string()}).column(0)
        s = pc.utf8_trim_whitespace(lines, memory_pool=_POOL)
        keep = pc.and_(pc.invert(pc.starts_with(s, "#")), pc.not_equal(s, ""))
        if not pc.all(keep).as_py():
            raise Irregular("comment or blank lines between rows")
        parts = pc.ascii_split_whitespace(s, memory_pool=_POOL) if delim is None else \
            pc.split_pattern(s, delim, memory_pool=_POOL)
        span = pc.min_max(pc.list_value_length(parts))
        if span["min"].as_py() != n_cols or span["max"].as_py() != n_cols:
            raise Irregular("rows with another number of values")
        flat = parts.combine_chunks(memory_pool=_POOL).flatten()
        if delim is not None:
            flat = pc.utf8_trim_whitespace(flat, memory_pool=_POOL)
        vals = pc.cast(flat, pa.float64(), memory_pool=_POOL)
        out[row: row + len(s)] = vals.to_numpy(zero_copy_only=False).reshape(-1, n_cols)
        row += len(s)
    return row - first


def parse_block(path: str, layout: Layout, n_cols: int, delim: str | None) -> np.ndarray:
    """The rows of the data section as a float64 array (rows, n_cols), streamed from the file
    in parts parsed in parallel (memory: the array and a few blocks).

    Raises :class:`Irregular` when the block needs a more tolerant reader.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        head = os.pread(fd, min(4096, layout.end - layout.start), layout.start)
    finally:
        os.close(fd)
    first = head.split(b"\n", 1)[0].rstrip(b"\r")
    simple = bool(first) and first[:1] not in (b" ", b"\t") and b"#" not in head and \
        b"\r" not in head and (delim is not None or (b"  " not in first and b"\t" not in first))
    est = [n for _, _, n in layout.parts]
    out = np.empty((sum(est), n_cols), dtype=np.float64, order="F")
    offsets = np.concatenate([[0], np.cumsum(est)[:-1]]).astype(int).tolist()

    def run(part_fn, sep):
        jobs = [(path, a, b, n_cols, sep, out, row0)
                for (a, b, _), row0 in zip(layout.parts, offsets)]
        try:
            if len(jobs) == 1:
                return [part_fn(*jobs[0])]
            with ThreadPoolExecutor(len(jobs)) as pool:
                return list(pool.map(lambda j: part_fn(*j), jobs))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
            raise Irregular(str(err)) from err

    got = None
    if simple:
        try:
            got = run(_direct_part, delim if delim is not None else " ")
        except Irregular:
            got = None
    if got is None:
        got = run(_split_part, delim)
    if got != est:        # blank lines: fewer rows than lines in a part
        keep = np.concatenate([np.arange(r0, r0 + n) for r0, n in zip(offsets, got)])
        out = out[keep]
    return out


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
