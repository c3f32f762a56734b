"""The data block of a LAS file, parsed from the bytes at its offset (no decoding of the whole file).

:func:`locate` finds the log data section (``~A`` in LAS 1.2/2.0, ``~Log_Data`` or ``~A`` in
LAS 3.0), reading the file in chunks: the header text before it, the section's own line, the byte
range of its rows and their line count, in one pass (with two threads and more than 16 MB of
rows, two halves split at a line break, each scanned by its own thread). :func:`parse_block`
streams those bytes in blocks of whole lines through Arrow's CSV reader and float parser
(correctly rounded: values bit-identical to lasio's) into one preallocated column-major float64
array sized by that count, one copy per block, the NULL value masked per block; the halves are
parsed by two threads. Single-delimiter rows (LF or CRLF) are read column-wise directly; rows
separated by runs of blanks or tabs (right-aligned columns, as lasio and most exporters write
them) the same way once the blank before each value has been marked as a comma in the block just
read; anything else through a whitespace split. Rows whose value count differs, text values
(Arrow's null markers included), comment lines and more rows than line breaks (a lone CR) raise
:class:`Irregular` so the caller can take a slower, more tolerant path.

The delimiter comes from ``DLM`` in ``~Version`` (SPACE, COMMA, TAB, SEMICOLON); without it,
data whose first row holds commas are read as comma-delimited when every row splits evenly.
"""

from __future__ import annotations

import mmap
import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

DELIMITERS = {"SPACE": None, "COMMA": ",", "TAB": "\t", "SEMICOLON": ";", "SEMI-COLON": ";"}
_DATA_SECTION = re.compile(rb"[ \t]*~(A|LOG_DATA)", re.I)      # matched at a line start
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
    (never whole): the header, then the rows once, to find where they end and count their lines.
    With ``threads`` > 1 and more than 16 MB of rows, the rows are split in two parts at the first
    line break after the middle, each part's lines counted in the same pass."""
    size = os.path.getsize(path)
    fd = os.open(path, os.O_RDONLY)
    try:
        head, m = bytearray(), None        # grown in place: += on bytes copies it all each time
        while m is None or head.find(b"\n", m.start()) < 0:
            block = os.pread(fd, 1 << 20, len(head))
            if not block:
                break
            # only the new block is searched, from the start of the line it continues (searching
            # the whole head again each time cost the square of a long header)
            at = head.rfind(b"\n") + 1 if m is None else m.start()
            head += block
            m = next(section_lines(head, _DATA_SECTION, at), None)
        if m is None:
            return None
        nl = head.find(b"\n", m.start())
        start = size if nl < 0 else nl + 1
        section_line = head[m.start(): start].decode("latin-1").strip()
        ranges = [(start, size)]
        if threads > 1 and size - start > _THREADS_ABOVE:
            mid = start + (size - start) // 2
            nl = os.pread(fd, 1 << 16, mid).find(b"\n")
            if nl >= 0:
                ranges = [(start, mid + nl + 1), (mid + nl + 1, size)]
        if len(ranges) == 1:
            scans = [_scan_rows(fd, *ranges[0])]
        else:                   # each half scanned by a thread of its own
            with ThreadPoolExecutor(len(ranges)) as pool:
                scans = list(pool.map(lambda r: _scan_rows(fd, *r), ranges))
        if size > start and os.pread(fd, 1, size - 1) != b"\n" and scans[-1][0] == size:
            scans[-1] = (size, scans[-1][1] + 1)    # a last line without a line break
    finally:
        os.close(fd)
    parts = []
    for (a, b), (stop, n) in zip(ranges, scans):
        if stop > a or not parts:
            parts.append((a, stop, n))
        if stop < b:            # a section starts here: the rows end
            break
    header = bytes(head[: m.start()])
    return Layout(header, section_line, header.count(b"\n") + 2, start, parts[-1][1], size, parts)


def section_lines(text, pattern: re.Pattern, at: int = 0):
    """The matches of ``pattern`` at the lines of ``text`` (str or bytes) from ``at`` (a line
    start) on whose first character other than blanks and tabs is ``~``: what ``^[ \\t]*~...``
    with ``re.M`` finds, at the speed of ``find`` (a regex anchored at line starts is tried at
    every position: 30 MB/s, against GB/s to jump from one ``~`` to the next)."""
    tilde, nl, blanks = ("~", "\n", " \t") if isinstance(text, str) else (b"~", b"\n", b" \t")
    i = text.find(tilde, at)
    while i >= 0:
        start = text.rfind(nl, at, i) + 1 or at
        if not text[start:i].strip(blanks) and (m := pattern.match(text, start)):
            yield m
        i = text.find(tilde, i + 1)


def _scan_rows(fd: int, a: int, b: int) -> tuple[int, int]:
    """(offset of the first line in ``[a, b)`` that starts a section (``~`` after blanks), else
    ``b``; number of line breaks before it). ``a`` starts a line."""
    space = _scratch(_CHUNK)
    view = memoryview(space)
    codes = np.frombuffer(space, dtype=np.uint8)
    hits = np.frombuffer(_scratch(_CHUNK), dtype=bool)
    pos, n, prev = a, 0, 10                 # prev: the byte before the chunk
    while pos < b:
        got = os.preadv(fd, [view[: min(_CHUNK, b - pos)]], pos)
        if not got:
            return pos, n
        k, i = got, space.find(b"~", 0, got)
        while i >= 0:
            line_start = space.rfind(b"\n", 0, i) + 1
            if line_start == 0 and prev != 10:      # the line began in the previous chunk
                line_start = -1
            if line_start >= 0 and not space[line_start:i].strip(b" \t"):
                k = line_start
                break
            i = space.find(b"~", i + 1, got)
        np.equal(codes[:k], 10, out=hits[:k])
        n += int(np.count_nonzero(hits[:k]))
        if k < got:
            return pos + k, n
        prev = space[got - 1]
        pos += got
    return b, n


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


# Bytes of rows parsed at a time, shared by the threads (two threads parse blocks of half this
# size; half blocks also made two threads faster). Each block in flight costs about ten times its
# size in Arrow's buffers and the allocator's arenas, so blocks are also halved down to
# _MIN_BLOCK until those in flight are at most 1/32 of the rows (the whitespace split, with more
# intermediate arrays, once more): the peak stays near 1.2x the array for smaller arrays too.
_BLOCK = 1 << 20
_MIN_BLOCK = 128 << 10
# The system allocator returns each block's memory at once; Arrow's default pools keep it (a
# large file then peaks at several times its data array).
_POOL = pa.system_memory_pool()


def _scratch(n: int) -> mmap.mmap:
    """``n`` bytes of anonymous memory, returned to the system when the last reference to it goes
    (a buffer freed by a worker thread would stay in that thread's malloc arena, adding to the
    peak of the reads that follow)."""
    return mmap.mmap(-1, n)


def _blocks(path: str, a: int, b: int, block: int):
    """Bytes ``[a, b)`` of a file as views of whole lines (of an mmap, ``.obj``), about ``block``
    bytes each, read into one reused buffer (each is parsed before the next is read)."""
    space = _scratch(block)
    view = memoryview(space)
    with open(path, "rb", buffering=0) as fh:
        pos = a
        while pos < b:
            fh.seek(pos)
            got = fh.readinto(view[: min(block, b - pos)])
            if not got:
                return
            k = got
            if pos + k < b:
                k = space.rfind(b"\n", 0, got) + 1
                if k == 0:
                    raise Irregular(f"a data line longer than {block} bytes")
            yield view[:k]
            pos += k


def _options(names: list[str], delim: str, kind, block: int, lead: bool = False) -> dict:
    """Arrow CSV options for one part: no quoting, no null markers (a text value such as ``NA``
    is an error, so the file takes the tolerant route that reports it), no type inference.
    ``lead``: each row starts with a blank field (the blanks before its first value), not kept."""
    return {"read_options": pcsv.ReadOptions(column_names=["-"] * lead + names,
                                             use_threads=False, block_size=block + 1),
            "parse_options": pcsv.ParseOptions(delimiter=delim, quote_char=False,
                                               escape_char=False),
            "convert_options": pcsv.ConvertOptions(column_types={n: kind for n in names},
                                                   include_columns=names if lead else [],
                                                   null_values=[], strings_can_be_null=False,
                                                   quoted_strings_can_be_null=False),
            "memory_pool": _POOL}


def _arrow_part(path, a, b, n_cols, delim, null, block, out, row, stop, lead=None) -> int:
    """Rows with one delimiter between values (``lead`` None), or separated by runs of blanks
    (right-aligned columns, as lasio and most exporters write them; ``lead``: the rows start
    with blanks). Arrow parses each block's columns as float64, trimming the blanks around a
    number, and each block is copied into ``out`` in one column-major copy.

    Runs of blanks: in each block just read, the last blank before each value becomes a comma
    and Arrow reads comma-separated fields. A block that already holds a comma is
    :class:`Irregular` (the marks would be ambiguous); so is a row with leading blanks when the
    first row had none, or the reverse (another field count)."""
    marked = lead is not None
    opts = _options([f"c{i}" for i in range(n_cols)], "," if marked else delim, pa.float64(),
                    block, bool(lead))
    flags = (np.empty(block, dtype=bool), np.empty(block, dtype=bool)) if marked else None
    first = row
    for buf in _blocks(path, a, b, block):
        if flags:
            _mark(buf, *flags)
        table = pcsv.read_csv(pa.BufferReader(pa.py_buffer(buf)), **opts)
        for batch in table.to_batches():
            row = _put(batch, out, row, stop, null)
    return row - first


def _mark(buf: memoryview, blank: np.ndarray, value: np.ndarray) -> None:
    """Whitespace-delimited rows, in place: the blank before each value becomes a comma."""
    space, k = buf.obj, len(buf) - 1
    if space.find(b",", 0, k + 1) >= 0:
        raise Irregular("a comma in whitespace-delimited rows")
    codes = np.frombuffer(buf, dtype=np.uint8)
    blank, value = blank[:k], value[:k]
    np.equal(codes[:k], 32, out=blank)
    if space.find(b"\t", 0, k + 1) >= 0:
        blank |= codes[:k] == 9
    np.greater(codes[1:], 32, out=value)
    blank &= value                               # the last blank before a value
    np.copyto(codes[:k], 44, where=blank)


def _put(batch: pa.RecordBatch, out: np.ndarray, row: int, stop: int,
         null: float | None) -> int:
    """Copy a parsed block into ``out`` from ``row``; the row after it."""
    n = batch.num_rows
    if row + n > stop:
        raise Irregular("more rows than line breaks (a lone carriage return?)")
    rows = out[row: row + n]
    rows[...] = np.asarray(batch.to_tensor(row_major=False, memory_pool=_POOL))
    _mask_null(rows, null)
    return row + n


def _mask_null(rows: np.ndarray, null: float | None) -> None:
    """NULL values to NaN in a block of rows just written (still in the cache)."""
    if null is not None:
        rows[rows == null] = np.nan


def _split_part(path, a, b, n_cols, delim, null, block, out, row, stop) -> int:
    """Any spacing: each row split on whitespace (or the delimiter, values trimmed)."""
    opts = _options(["row"], "\x01", pa.string(), block)
    first = row
    for buf in _blocks(path, a, b, block):
        lines = pcsv.read_csv(pa.BufferReader(pa.py_buffer(buf)), **opts).column(0)
        s = pc.utf8_trim_whitespace(lines, memory_pool=_POOL)
        keep = pc.and_(pc.invert(pc.starts_with(s, "#")), pc.not_equal(s, ""))
        if not pc.all(keep).as_py():
            raise Irregular("comment or blank lines between rows")
        parts = pc.ascii_split_whitespace(s, memory_pool=_POOL) if delim is None else \
            pc.split_pattern(s, delim, memory_pool=_POOL)
        span = pc.min_max(pc.list_value_length(parts))
        if span["min"].as_py() != n_cols or span["max"].as_py() != n_cols:
            raise Irregular("rows with another number of values")
        if row + len(s) > stop:
            raise Irregular("more rows than line breaks (a lone carriage return?)")
        flat = parts.combine_chunks(memory_pool=_POOL).flatten()
        if delim is not None:
            flat = pc.utf8_trim_whitespace(flat, memory_pool=_POOL)
        vals = pc.cast(flat, pa.float64(), memory_pool=_POOL)
        rows = out[row: row + len(s)]
        rows[...] = vals.to_numpy(zero_copy_only=False).reshape(-1, n_cols)
        _mask_null(rows, null)
        row += len(s)
    return row - first


def _block(layout: Layout, split: bool) -> int:
    """Bytes of rows each thread parses at a time (see ``_BLOCK``)."""
    block = _BLOCK // len(layout.parts)
    while block > _MIN_BLOCK and block * len(layout.parts) * 32 > layout.end - layout.start:
        block //= 2
    return block // 2 if split and block > _MIN_BLOCK else block


def parse_block(path: str, layout: Layout, n_cols: int, delim: str | None,
                null: float | None = None) -> np.ndarray:
    """The rows of the data section as a float64 array (rows, n_cols) in column-major order,
    streamed from the file in parts parsed in parallel (memory: the array and a few blocks);
    values equal to ``null`` become NaN.

    Raises :class:`Irregular` when the block needs a more tolerant reader.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        head = os.pread(fd, min(4096, layout.end - layout.start), layout.start)
    finally:
        os.close(fd)
    first = head.split(b"\n", 1)[0].rstrip(b"\r")
    lead = first[:1] in (b" ", b"\t")
    tries = []              # the fastest reading that may fit first; the tolerant split last
    if first and b"#" not in head:
        if delim is not None or not (lead or b"  " in first or b"\t" in first):
            tries.append((_arrow_part, delim if delim is not None else " "))
        if delim is None:
            tries.append((partial(_arrow_part, lead=lead), None))
    tries.append((_split_part, delim))
    est = [n for _, _, n in layout.parts]
    out = np.empty((sum(est), n_cols), dtype=np.float64, order="F")
    offsets = np.concatenate([[0], np.cumsum(est)]).astype(int).tolist()

    def run(part_fn, sep):
        block = _block(layout, part_fn is _split_part)
        jobs = [(path, a, b, n_cols, sep, null, block, out, row0, stop)
                for (a, b, _), row0, stop in zip(layout.parts, offsets, offsets[1:])]
        try:
            if len(jobs) == 1:
                return [part_fn(*jobs[0])]
            with ThreadPoolExecutor(len(jobs)) as pool:
                return list(pool.map(lambda j: part_fn(*j), jobs))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
            raise Irregular(str(err)) from err

    for part_fn, sep in tries:
        try:
            got = run(part_fn, sep)
            break
        except Irregular:
            if part_fn is _split_part:
                raise
    if got != est:        # blank lines: fewer rows than lines in a part; close the gaps
        row = got[0]
        for (r0, n) in zip(offsets[1:], got[1:]):
            for j in range(n_cols):             # column by column: no full-size temporary
                out[row: row + n, j] = out[r0: r0 + n, j]
            row += n
        out = out[:row]
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


def column_order(curves: list[str], a_names: list[str],
                 canonical: Callable[[str], str | None] | None = None) \
        -> tuple[list[int] | None, str]:
    """How the data columns map onto the ``~Curve`` list, from the names on the ``~A`` line.

    A name on the ``~A`` line names the ``~Curve`` curve of the same name (case ignored), else
    the one curve left whose ``canonical`` name (the alias table: ``Depth`` and ``DEPT`` are
    both the depth) is its own, when no other name left shares it. Returns ``(order, note)``:
    ``order[i]`` is the data column of curve ``i`` (None: as listed) and a note when the
    columns were mapped by name. Names that match no curve are read where they stand, as long
    as every name that matches a curve stands at that curve's position. Raises ValueError
    (message naming both orders) on a true conflict: a name that names another position's
    curve, and names that cannot be matched one to one.
    """
    if len(a_names) != len(curves):
        return None, ""
    cu = [c.upper() for c in curves]
    au = [a.upper() for a in a_names]
    if cu == au:
        return None, ""
    match = _match_names(cu, au, canonical)
    if None not in match:
        order = [0] * len(curves)
        for j, i in enumerate(match):
            order[i] = j
        moved = [c for i, c in enumerate(curves) if order[i] != i]
        if not moved:
            return None, ""       # names differ in places (DEPT/DEPTH) but none is moved
        aliased = [f"{a_names[j]} as {curves[i]}" for j, i in enumerate(match) if au[j] != cu[i]]
        return order, (f"the ~A line lists the columns in another order than the ~Curve section; "
                       f"mapped by name ({', '.join(moved)} moved"
                       + (f"; {', '.join(aliased)} by the alias table" if aliased else "") + ")")
    if all(i == j for j, i in enumerate(match) if i is not None):
        return None, ""           # the names that match a curve stand where it is listed
    raise ValueError(f"the ~A line names the columns in another order than the ~Curve section "
                     f"and not every name matches, so which column is which cannot be told. "
                     f"~Curve order: {' '.join(curves)}; ~A order: {' '.join(a_names)}. "
                     f"Make the ~Curve section list the curves in the order of the data columns")


def _match_names(cu: list[str], au: list[str],
                 canonical: Callable[[str], str | None] | None) -> list[int | None]:
    """For each ~A name (upper case), the index of the ~Curve curve it names, or None: the same
    name first, then the same canonical name where exactly one ~A name and one curve left share
    it (never two names for one curve)."""
    where: dict[str, int] = {}
    for i, c in enumerate(cu):
        where.setdefault(c, i)
    match: list[int | None] = [None] * len(au)
    free = set(range(len(cu)))
    for j, a in enumerate(au):
        i = where.get(a)
        if i is not None and i in free:
            match[j] = i
            free.discard(i)
    if canonical is None:
        return match
    left_a: dict[str, list[int]] = {}
    for j, a in enumerate(au):
        if match[j] is None and (key := canonical(a)) is not None:
            left_a.setdefault(key, []).append(j)
    left_c: dict[str, list[int]] = {}
    for i in sorted(free):
        if (key := canonical(cu[i])) is not None:
            left_c.setdefault(key, []).append(i)
    for key, js in left_a.items():
        if len(js) == 1 and len(left_c.get(key, ())) == 1:
            match[js[0]] = left_c[key][0]
    return match
