"""LAS 1.2 / 2.0 / 3.0 reading (writing: :mod:`petro.io.las_writer`).

Headers are always parsed by lasio (a LAS 3.0 header is handed to it in LAS 2.0 form). The log
data of an unwrapped file are parsed from the bytes at their offset by :mod:`petro.io.las_data`
(Arrow's float parser: values identical to lasio's, many times faster, without decoding the whole
file; two threads on a file with more than 16 MB of rows where the process may run on more than
one CPU); ``DLM`` delimiters (SPACE, COMMA, TAB, SEMICOLON) and comma data without ``DLM`` are read
correctly. Wrapped files and anything irregular (text values, comment lines) take the tolerant
route: lasio for whitespace data, a row splitter for delimited data. Column names on the ``~A``
line map the columns by name (aliases resolved by the packaged alias table: ``Depth`` is DEPT).
lasio's warnings become problem records. A hostile file is refused at a cost in proportion to
it, before lasio or a whole-file read: header sections too long for lasio
(:func:`~petro.io.las_header.check_header_size`), rows that are not numbers (from their first
1 MB). Every failure is an :class:`~petro.errors.InputError` naming the file and, where known,
the line and the curve.
"""

from __future__ import annotations

import io
import os
import re
from functools import lru_cache
from pathlib import Path

import lasio
import numpy as np
import pandas as pd

from petro.errors import InputError
from petro.io.las_data import (Irregular, Layout, a_line_names, column_order, delimiter_of, locate,
                               parse_block, section_lines, sniff_delimiter)
from petro.io.las_header import (HEADER_LINE, check_header_size, header_via_lasio,
                                 listen_to_lasio, problems_of, sections)
from petro.io.raw import DEFAULT_NULL, RawTable
from petro.mnemonics import AliasTable
from petro.problems import Problem, info, warning

def decode(raw: bytes, path: str) -> str:
    """Decode LAS bytes: BOM-marked UTF-8/UTF-16, else UTF-8, else cp1252 (never fails silently)."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="replace")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as err:
            raise InputError("a UTF-16 byte order mark but not UTF-16 text (an odd byte count "
                             "or a damaged file); export the log again", path=path) from err
    head = raw[:4000]
    if head and head.count(b"\x00") > len(head) // 4:
        # UTF-16 without BOM: every other byte is NUL in ASCII text
        enc = "utf-16-le" if head[1:2] == b"\x00" else "utf-16-be"
        try:
            return raw.decode(enc)
        except UnicodeDecodeError as err:
            raise InputError("binary content, not a text LAS file", path=path) from err
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


# section lines, matched at line starts by section_lines
_SECTION = re.compile(r"[ \t]*~")
_DATA = re.compile(r"[ \t]*~(?:A|LOG_DATA)[^\n]*", re.I)
_OTHER_DATA = re.compile(r"[ \t]*~(\w+_DATA\b[^|\n]*)", re.I)
_VERS = re.compile(r"^\s*VERS\s*\.[^\S\n]*(?:[^\s:]*)?\s+([0-9.]+)", re.M | re.I)
_WRAP = re.compile(r"^\s*WRAP\s*\.\s*(\w+)", re.M | re.I)


def _check_text(text: str, path: str) -> None:
    if not text.strip():
        raise InputError("file is empty; export the log again", path=path)
    sample = text[:20000]
    bad = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\r\n\t\f\v") or ch == "\ufffd")
    if bad > max(8, len(sample) // 50):
        raise InputError("binary content, not a text LAS file", path=path)
    if next(section_lines(text[:200000], _SECTION), None) is None:
        raise InputError("not a LAS file: no '~' section header (~Version, ~Well, ~Curve, ~A) "
                         "found", path=path)


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


_FIRST_ROWS = 1 << 20       # bytes of rows looked at before a file is read whole
_NUMBER = re.compile(r"[\"']?[-+]?\.?\d")      # a quoted index (LAS 3.0 text) too
_VALUE_END = re.compile(r"[\s,;]")


def _first_rows(path: str, layout: Layout) -> str:
    """The first whole rows of the data section, about :data:`_FIRST_ROWS` bytes of them."""
    with open(path, "rb") as fh:
        fh.seek(layout.start)
        raw = fh.read(min(_FIRST_ROWS, layout.end - layout.start))
    if layout.start + len(raw) < layout.end and b"\n" in raw:
        raw = raw[: raw.rfind(b"\n") + 1]
    return decode(raw, path)


def _check_first_rows(rows: str, path: str, first_line: int) -> None:
    """Refuse a data section that is not log data from its first rows (the text of about
    :data:`_FIRST_ROWS` bytes of them, ``first_line`` the line of the first), before the whole
    file is read: more than half of the rows do not start with a number or a null marker (a LAS
    row starts with its index, a depth or a time)."""
    seen, bad, example = 0, 0, None
    for i, line in enumerate(rows.split("\n")):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        seen += 1
        first = _VALUE_END.split(s, 1)[0]
        if not (_NUMBER.match(first) or first.lower() in TEXT_NULLS):
            bad += 1
            example = example or (i, s)
    if example and 2 * bad > seen:
        i, s = example
        raise InputError(f"the data section does not hold log data: {bad:,} of its first "
                         f"{seen:,} rows do not start with a number (this one reads "
                         f"{s[:60]!r}); export the log again", path=path, line=first_line + i,
                         code="not_log_data")


def read_las(path: str | os.PathLike, *, fast: bool = True,
             threads: int | None = None) -> RawTable:
    """Read a LAS file into a :class:`~petro.io.raw.RawTable`.

    Parameters
    ----------
    path : path of the LAS file
    fast : parse the log data from the bytes at its offset where the file allows it (values
        identical to lasio's); else everything goes through lasio
    threads : 2 scans and parses the rows of a large file (> 16 MB of rows) in two halves at
        once, 1 in one thread; None (the default) takes 2 where the process may run on more than
        one CPU and has not been told to run one thread (:func:`default_threads`). Peak memory
        is 1.15x to 1.4x the float64 data array either way.
    """
    if threads is None:
        threads = default_threads()
    path = str(path)
    try:
        size = os.path.getsize(path)
        if size == 0:
            raise InputError("file is empty (0 bytes); export the log again", path=path)
        with open(path, "rb") as fh:
            head = fh.read(4000)
        utf16 = head.startswith((b"\xff\xfe", b"\xfe\xff")) or \
            head.count(b"\x00") > len(head) // 4
        layout = None if (utf16 or not fast) else locate(path, threads)
    except OSError as err:
        raise InputError(f"cannot read file: {err.strerror}", path=path) from err
    if layout is not None:
        header_text = decode(layout.header, path).replace("\r\n", "\n").replace("\r", "\n")
        _check_text(header_text + "\n" + layout.section_line, path)
        check_header_size(header_text, path)
        version, wrapped = _version(header_text)
        if not wrapped:
            try:
                return _read_fast(path, layout, header_text, version)
            except Irregular:
                pass
        _check_first_rows(_first_rows(path, layout), path, layout.first_line)
    try:
        raw = Path(path).read_bytes()
    except OSError as err:
        raise InputError(f"cannot read file: {err.strerror}", path=path) from err
    return _read_text(path, raw)


def default_threads() -> int:
    """Threads for one file when the caller does not say (``threads=``; the application passes
    ``ingest.read_threads``, 1 in the tasks of its local process pool): ``OMP_NUM_THREADS``
    (Dask's nannies set it to 1 in every worker), capped at 2; without it, 2 where the process
    may run on more than one CPU. A worker that is one of several on a machine so reads with one
    thread and the cores are not oversubscribed."""
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    if value.isdigit() and int(value) > 0:
        return min(2, int(value))
    return 2 if _cpus() > 1 else 1


def _cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:          # not on Linux
        return os.cpu_count() or 1


def _version(header: str) -> tuple[float, bool]:
    m_v = _VERS.search(header)
    m_w = _WRAP.search(header)
    try:
        version = float(m_v.group(1)) if m_v else 2.0
    except ValueError:
        version = 2.0
    return version, bool(m_w and m_w.group(1).upper().startswith("Y"))


def _delimiter(header: str, path: str) -> str | None:
    try:
        return delimiter_of(header)[0]
    except ValueError as err:
        raise InputError(f"DLM {err} in ~Version is not a LAS delimiter: use SPACE, COMMA, TAB "
                         f"or SEMICOLON", path=path) from err


def _read_text(path: str, raw: bytes) -> RawTable:
    """The tolerant route: decode the whole file; lasio for whitespace data, petro's own row
    splitter for delimited data (lasio reads those into one column)."""
    text = decode(raw, path)
    _check_text(text, path)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    m_a = next(section_lines(text, _DATA), None)
    version, wrapped = _version(text[: m_a.start()] if m_a else text)
    if m_a is None:
        others = [m.group(1).strip() for m in section_lines(text, _OTHER_DATA)]
        if others:
            raise InputError(f"no log data section (~Log_Data or ~A): the file holds only "
                             f"{', '.join(others)}; export the logs with their data", path=path)
        raise InputError("no ~A (data) section: the file holds headers only; export it with "
                         "its data", path=path)
    check_header_size(text, path)
    header = text[: m_a.start()]
    nl = text.find("\n", m_a.start())
    data_start = len(text) if nl < 0 else nl + 1
    nxt = next(section_lines(text, _SECTION, data_start), None)
    body = text[data_start: nxt.start() if nxt else len(text)]
    if not any(s.strip() and not s.lstrip().startswith("#") for s in body.split("\n")):
        raise InputError(f"the data section ({m_a.group(0).strip()}) holds no data rows; export "
                         f"the log with its data", path=path, line=_line_of(text, m_a.start()))
    _check_first_rows(body[:_FIRST_ROWS], path, _line_of(text, data_start))
    delim = _delimiter(header, path)
    if delim is None and not wrapped:
        delim = sniff_delimiter(body[:4096].encode("utf-8", "replace"))
    if delim is not None or version >= 3:
        las, problems = header_via_lasio(path, header, version)
        if las is not None and len(las.curves):
            well, params, curves = sections(las)
            _check_rows(path, text, data_start, data_start + len(body), len(curves), delim)
            rows = [_split_row(s, delim) for s in body.split("\n")
                    if s.strip() and not s.lstrip().startswith("#")]
            frame = pd.DataFrame(rows, columns=[c.mnemonic for c in curves], dtype=object)
            return _finish(path, well, params, curves, frame, False, problems,
                           m_a.group(0), delim, _line_of(text, data_start))
    if not wrapped:
        _check_rows(path, text, data_start, data_start + len(body), None, None)
    return _read_lasio(path, text, wrapped)


def _split_row(line: str, delim: str | None) -> list[str]:
    return line.split() if delim is None else [v.strip() for v in line.split(delim)]


TEXT_NULLS = frozenset({"nan", "-nan", "na", "n/a", "#n/a", "null", "(null)", "none", "-", "--",
                        "---", "err", "error", "inf", "-inf", "+inf", "infinity", "-infinity"})


def _null_of(well: dict, problems: list[Problem], path: str) -> float:
    """The file's NULL value; -999.25 (noted) when the ~Well section gives none."""
    item = well.get("NULL")
    try:
        if item is not None and str(item[0]).strip():
            return float(item[0])
    except ValueError:
        pass
    problems.append(info(f"no NULL value in ~Well: {DEFAULT_NULL} taken as missing", path=path,
                         code="null_default"))
    return DEFAULT_NULL


@lru_cache(maxsize=1)
def _aliases() -> AliasTable:
    return AliasTable()


def _canonical(name: str) -> str | None:
    """The canonical name of a mnemonic in the packaged alias table (``Depth`` -> DEPT)."""
    hit = _aliases().canonical(name)
    return hit[0] if hit else None


def _order(path: str, names: list[str], section_line: str, delim: str | None,
           problems: list[Problem]) -> list[int] | None:
    try:
        order, note = column_order(names, a_line_names(section_line, delim), _canonical)
    except ValueError as err:
        raise InputError(str(err), path=path, code="column_order") from err
    if note:
        problems.append(warning(note, path=path, code="column_order"))
    return order


def _read_fast(path: str, layout: Layout, header: str, version: float) -> RawTable:
    """Header through lasio, rows from the mapped bytes; :class:`Irregular` where the file needs
    the tolerant route."""
    las, problems = header_via_lasio(path, header, version)
    if las is None:
        raise Irregular("header")
    well, params, curves = sections(las)
    names = [c.mnemonic for c in curves]
    if not curves or len(set(names)) != len(names):
        raise Irregular("names only on the ~A line, or duplicate mnemonics: lasio's rules apply")
    delim = _delimiter(header, path)
    if delim is None:
        with open(path, "rb") as fh:
            fh.seek(layout.start)
            delim = sniff_delimiter(fh.read(min(4096, layout.end - layout.start)))
    null_note: list[Problem] = []
    null = _null_of(well, null_note, path)
    arr = parse_block(path, layout, len(curves), delim, null)
    if arr.shape[0] == 0:
        raise InputError("the log data section holds no data rows", path=path)
    order = _order(path, names, layout.section_line, delim, problems)
    problems.extend(null_note)
    if order is not None:
        arr = arr[:, order]
    df = pd.DataFrame(arr, columns=names, copy=False)
    return RawTable(path, "las", well, params, curves, df, null, problems)


def _check_rows(path: str, text: str, start: int, end: int, n_curves: int | None,
                delim: str | None) -> None:
    """Raise an InputError naming the first data line whose value count differs from the others
    (a truncated or damaged row). Files whose rows all agree are left to the reader."""
    counts: dict[int, int] = {}
    first_line = _line_of(text, start)
    tokens = []
    for line in text[start:end].split("\n"):
        s = line.strip()
        if not s or s.startswith("#"):
            tokens.append(-1)
            continue
        k = len(_split_row(s, delim))
        tokens.append(k)
        counts[k] = counts.get(k, 0) + 1
    if len(counts) <= 1 and (n_curves is None or not counts or n_curves in counts):
        return
    usual = n_curves if n_curves in counts else max(counts, key=counts.get)
    for i, k in enumerate(tokens):
        if k not in (-1, usual):
            last = all(t == -1 for t in tokens[i + 1:])
            what = "the file looks truncated" if last else "a damaged row"
            listed = n_curves if n_curves is not None else usual
            raise InputError(f"{k} values where the ~Curve section lists {listed} ({what}); "
                             f"fix or remove the line", path=path, line=first_line + i)
    if n_curves is not None and usual != n_curves:
        raise InputError(f"every data row holds {usual} values but the ~Curve section lists "
                         f"{n_curves} curves; check the DLM delimiter and the ~Curve section",
                         path=path, line=first_line)


def _read_lasio(path: str, text: str, wrapped: bool) -> RawTable:
    check_header_size(text, path, curves_whole=True)
    try:
        with listen_to_lasio() as heard:
            las = lasio.read(io.StringIO(text), engine="normal", ignore_header_errors=False)
    except lasio.exceptions.LASHeaderError as err:
        m = HEADER_LINE.search(str(err))
        raise InputError(f"cannot read this {m.group(2).strip() if m else 'header'} line "
                         f"({str(err).split(': ', 1)[-1]}); a header line is MNEM.UNIT VALUE : "
                         f"DESCRIPTION", path=path, line=int(m.group(1)) if m else None) \
            from err
    except Exception as err:
        raise InputError(f"lasio cannot parse it ({type(err).__name__}: {err}); check the "
                         f"~A section and the ~Curve list", path=path) from err
    problems = problems_of(heard, path)
    well, params, curves = sections(las)
    if not curves:
        raise InputError("no curves in the ~Curve section", path=path)
    try:
        df = las.df().reset_index()
    except Exception as err:
        raise InputError(f"data do not fit the ~Curve section ({err})", path=path) from err
    if df.shape[0] == 0:
        raise InputError("~A section holds no data rows", path=path)
    names = [c.mnemonic for c in las.curves]
    df.columns = names[: df.shape[1]]
    m_a = next(section_lines(text, _DATA), None)
    line = _line_of(text, m_a.end()) + 1 if (m_a and not wrapped) else None
    return _finish(path, well, params, curves, df, wrapped, problems,
                   m_a.group(0) if m_a else "", None, line)


def _finish(path, well, params, curves, df, wrapped, problems, section_line, delim,
            first_line) -> RawTable:
    """Text nulls, non-numeric values, column order and NULL of a table read as text."""
    null = _null_of(well, problems, path)
    names = list(df.columns)
    if not wrapped and len(names) == len(set(names)):
        order = _order(path, names, section_line, delim, problems)
        if order is not None:
            df = df.iloc[:, order].set_axis(names, axis=1)
    out = {}
    for col in df.columns:
        s = df[col]
        if s.dtype.kind in "fiu":
            out[col] = s.astype(float)
            continue
        text_null = s.astype(str).str.strip().str.lower().isin(TEXT_NULLS | {""})
        if text_null.any():
            problems.append(info(f"{int(text_null.sum())} text null markers (e.g. "
                                 f"{s[text_null].iloc[0]!r}) read as missing", path=path,
                                 curve=col, code="text_null"))
            s = s.mask(text_null)
        num = pd.to_numeric(s, errors="coerce")
        bad = num.isna() & s.notna() & (s.astype(str).str.strip() != "")
        if bad.all():
            problems.append(warning(f"text values (e.g. {s.iloc[0]!r}), not a numeric curve; "
                                    f"left out", path=path, curve=col, code="text_curve"))
            continue
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            line = (first_line + row) if first_line else None
            raise InputError(f"non-numeric value {s[bad].iloc[0]!r} in a numeric curve (data "
                             f"row {row + 1}); fix the value or set it to NULL",
                             path=path, line=line, curve=col)
        out[col] = num.astype(float)
    frame = pd.DataFrame(out)
    frame = frame.mask(frame == null)
    keep = [c for c in curves if c.mnemonic in frame.columns]
    return RawTable(path, "las", well, params, keep, frame, null, problems)
