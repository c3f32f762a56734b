"""LAS 1.2 / 2.0 / 3.0 reading (writing: :mod:`petro.io.las_writer`).

Headers are always parsed by lasio. The ``~A`` section of an unwrapped LAS 1.2/2.0 file is parsed
by pandas' C parser (about 12x faster than lasio on large image files) with round-trip float
parsing, so the values are identical to lasio's; wrapped files, LAS 3.0 and anything irregular go
through lasio in full. Every failure is an :class:`~petro.errors.InputError` naming the file and,
where known, the line and the curve.
"""

from __future__ import annotations

import io
import logging
import os
import re
import warnings
from contextlib import contextmanager
from pathlib import Path

import lasio
import numpy as np
import pandas as pd

from petro.errors import InputError
from petro.io.raw import DEFAULT_NULL, CurveInfo, RawTable
from petro.problems import Problem, info, warning

def decode(raw: bytes, path: str) -> str:
    """Decode LAS bytes: BOM-marked UTF-8/UTF-16, else UTF-8, else cp1252 (never fails silently)."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="replace")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
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


_SECTION = re.compile(r"^[ \t]*~", re.M)
_A_SECTION = re.compile(r"^[ \t]*~A", re.M | re.I)
_VERS = re.compile(r"^\s*VERS\s*\.[^\S\n]*(?:[^\s:]*)?\s+([0-9.]+)", re.M | re.I)
_WRAP = re.compile(r"^\s*WRAP\s*\.\s*(\w+)", re.M | re.I)


def _check_text(text: str, path: str) -> None:
    if not text.strip():
        raise InputError("file is empty; export the log again", path=path)
    sample = text[:20000]
    bad = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\r\n\t\f\v") or ch == "\ufffd")
    if bad > max(8, len(sample) // 50):
        raise InputError("binary content, not a text LAS file", path=path)
    if not _SECTION.search(text[:200000]):
        raise InputError("not a LAS file: no '~' section header (~Version, ~Well, ~Curve, ~A) "
                         "found", path=path)


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def read_las(path: str | os.PathLike, *, fast: bool = True) -> RawTable:
    """Read a LAS file into a :class:`~petro.io.raw.RawTable`.

    Parameters
    ----------
    path : path of the LAS file
    fast : use the pandas ``~A`` parser where the file allows it (values identical to lasio)
    """
    path = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as err:
        raise InputError(f"cannot read file: {err.strerror}", path=path) from err
    if len(raw) == 0:
        raise InputError("file is empty (0 bytes); export the log again", path=path)
    text = decode(raw, path)
    _check_text(text, path)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    m_a = _A_SECTION.search(text)
    m_v = _VERS.search(text[: m_a.start()] if m_a else text)
    version = float(m_v.group(1)) if m_v else 2.0
    m_w = _WRAP.search(text[: m_a.start()] if m_a else text)
    wrapped = bool(m_w and m_w.group(1).upper().startswith("Y"))
    if m_a is None and version < 3:
        raise InputError("no ~A (data) section: the file holds headers only; export it with "
                         "its data", path=path)
    if fast and m_a is not None and version < 3 and not wrapped:
        result = _read_fast(path, text, m_a.start(), version)
        if result is not None:
            return result
    return _read_lasio(path, text, version, wrapped)


TEXT_NULLS = frozenset({"nan", "-nan", "na", "n/a", "#n/a", "null", "(null)", "none", "-", "--",
                        "---", "err", "error", "inf", "-inf", "+inf", "infinity", "-infinity"})


@contextmanager
def _quiet_lasio():
    """lasio reports through warnings and its logger; petro reports through its own problem records."""
    logger = logging.getLogger("lasio")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _header_via_lasio(path: str, header_text: str):
    try:
        with _quiet_lasio():
            return lasio.read(io.StringIO(header_text), ignore_data=True, ignore_header_errors=False)
    except Exception:  # lasio raises many kinds: the full lasio read reports it with the file
        return None


def _sections(las) -> tuple[dict, dict, list[CurveInfo]]:
    well = {str(i.mnemonic).upper(): (str(i.value), str(i.unit), str(i.descr)) for i in las.well}
    params = {str(i.mnemonic).upper(): (str(i.value), str(i.unit), str(i.descr))
              for i in las.params}
    curves = [CurveInfo(str(c.mnemonic), str(c.unit or ""), str(c.descr or "")) for c in las.curves]
    return well, params, curves


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


def _read_fast(path: str, text: str, a_start: int, version: float) -> RawTable | None:
    """Parse with pandas; return None where the file needs lasio's tolerance."""
    las = _header_via_lasio(path, text[:a_start])
    if las is None:
        return None
    well, params, curves = _sections(las)
    if not curves:
        return None  # names only on the ~A line: lasio's rules apply
    nl = text.find("\n", a_start)
    if nl < 0:
        raise InputError("~A section is empty: no data rows", path=path)
    data_start = nl + 1
    body = text[data_start:]
    first_line = _line_of(text, data_start)
    names = [c.mnemonic for c in curves]
    if len(set(names)) != len(names):
        return None  # duplicate mnemonics: lasio's renaming rules apply
    try:
        df = pd.read_csv(io.StringIO(body), sep=r"\s+", header=None, comment="#",
                         float_precision="round_trip", engine="c", dtype=np.float64,
                         skip_blank_lines=True)
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    if df.shape[1] != len(curves) or df.shape[0] == 0 or np.isnan(df.to_numpy()).any():
        # short rows are filled with NaN by pandas: find the line, or let lasio decide
        _check_rows(path, text, data_start, len(curves))
        return None
    df.columns = names
    problems: list[Problem] = []
    null = _null_of(well, problems, path)
    df = df.mask(df == null)
    del first_line
    return RawTable(path, "las", well, params, curves, df, null, version, False, True, problems)


def _check_rows(path: str, text: str, data_start: int, n_curves: int) -> None:
    """Raise an InputError naming the first data line whose value count differs from the others
    (a truncated or damaged row). Files whose rows all agree are left to lasio."""
    counts: dict[int, int] = {}
    first_line = _line_of(text, data_start)
    lines = text[data_start:].split("\n")
    tokens = []
    for i, line in enumerate(lines):
        s = line.strip()
        if not s or s.startswith("#"):
            tokens.append(-1)
            continue
        k = len(s.split())
        tokens.append(k)
        counts[k] = counts.get(k, 0) + 1
    if len(counts) <= 1:
        return
    usual = n_curves if n_curves in counts else max(counts, key=counts.get)
    for i, k in enumerate(tokens):
        if k not in (-1, usual):
            last = all(t == -1 for t in tokens[i + 1:])
            what = "the file looks truncated" if last else "a damaged row"
            raise InputError(f"{k} values where the ~Curve section lists {n_curves} ({what}); "
                             f"fix or remove the line", path=path, line=first_line + i)


def _read_lasio(path: str, text: str, version: float, wrapped: bool) -> RawTable:
    try:
        with _quiet_lasio():
            las = lasio.read(io.StringIO(text), engine="normal", ignore_header_errors=False)
    except Exception as err:
        raise InputError(f"lasio cannot parse it ({type(err).__name__}: {err}); check the "
                         f"~A section and the ~Curve list", path=path) from err
    well, params, curves = _sections(las)
    problems: list[Problem] = []
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
    null = _null_of(well, problems, path)
    out = {}
    a_line = _line_of(text, _A_SECTION.search(text).start()) if _A_SECTION.search(text) else None
    for j, col in enumerate(df.columns):
        s = df[col]
        if s.dtype.kind in "fiu":
            out[col] = s.astype(float)
            continue
        text_null = s.astype(str).str.strip().str.lower().isin(TEXT_NULLS)
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
            line = (a_line + 1 + row) if (a_line and not wrapped) else None
            raise InputError(f"non-numeric value {s[bad].iloc[0]!r} in a numeric curve (data "
                             f"row {row + 1}); fix the value or set it to NULL",
                             path=path, line=line, curve=col)
        out[col] = num.astype(float)
    frame = pd.DataFrame(out)
    frame = frame.mask(frame == null)
    keep = [c for c in curves if c.mnemonic in frame.columns]
    return RawTable(path, "las", well, params, keep, frame, null, version, wrapped, False, problems)
