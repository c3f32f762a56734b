"""LAS headers through lasio: lasio's warnings collected as problem records (never silenced),
a LAS 3.0 header handed to lasio in LAS 2.0 form, header errors naming their line."""

from __future__ import annotations

import io
import logging
from collections import Counter
import re
import warnings
from contextlib import contextmanager

import lasio

from petro.errors import InputError
from petro.io.las_data import section_lines
from petro.io.raw import CurveInfo
from petro.problems import Problem, warning

_NO_DATA = re.compile(r"defined in the ~C section but there is no data", re.I)
_INDEX_UNITS = re.compile(r"Conflicting index units found: \{([^}]*)\}")
HEADER_LINE = re.compile(r"Line (\d+) \(section ([^)]*)\)")


class _Heard(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@contextmanager
def listen_to_lasio():
    """lasio's warnings (its logger and the warnings module), collected, never silenced."""
    logger = logging.getLogger("lasio")
    heard = _Heard()
    logger.addHandler(heard)
    propagate, logger.propagate = logger.propagate, False
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield heard.messages
        heard.messages.extend(str(w.message) for w in caught)
    finally:
        logger.removeHandler(heard)
        logger.propagate = propagate


def problems_of(messages: list[str], path: str) -> list[Problem]:
    """Each lasio warning as a problem; one meaning the data are wrong fails the file."""
    out = []
    for msg in dict.fromkeys(messages):
        if _NO_DATA.search(msg):
            raise InputError(f"{msg}: the data rows hold fewer values than the ~Curve section "
                             f"lists curves (a wrong delimiter or a damaged export)", path=path)
        units = _INDEX_UNITS.search(msg)
        if units:     # lasio prints a set: its order changes from one process to the next
            listed = ", ".join(sorted(u.strip() for u in units.group(1).split(",")))
            msg = (f"the depth unit differs between the ~Curve section and STRT/STOP/STEP in "
                   f"~Well ({listed}); the depth curve's own unit in ~Curve is used: check it")
        out.append(warning(f"lasio: {msg}", path=path, code="lasio_warning"))
    return out


_LAS3_SECTIONS = {"VERSION": "~Version", "WELL": "~Well", "PARAMETER": "~Parameter",
                  "LOG_PARAMETER": "~Parameter", "CURVE": "~Curve", "LOG_DEFINITION": "~Curve"}


def las3_header_as_las2(header: str) -> str:
    """The ~Version, ~Well, ~Log_Parameter and ~Log_Definition sections of a LAS 3.0 header as a
    LAS 2.0 header (lasio cannot read a LAS 3.0 header without its data); lines kept in place so
    line numbers stay those of the file."""
    out, keep = [], False
    for line in header.split("\n"):
        s = line.strip()
        if s.startswith("~"):
            name = s[1:].split()[0].split("[")[0].upper() if len(s) > 1 else ""
            keep = name in _LAS3_SECTIONS
            out.append(_LAS3_SECTIONS[name] if keep else "#")
            continue
        if not keep or re.match(r"\s*(DLM|VERS)\s*\.", line, re.I):
            out.append(" VERS. 2.0 :" if re.match(r"\s*VERS\s*\.", line, re.I) and keep else "#")
            continue
        out.append(line)
    return "\n".join(out)


# Most items a header section may list. A real log has at most a few hundred curves: a borehole
# image exported to LAS is one curve per azimuthal sector (180 or 360 bins, 192 pads' buttons),
# so a composite of two 360-sector images, a T2 distribution and the conventional logs stays
# under 1,000; ~Parameter sections of vendor exports stay in the hundreds (the largest among the
# 142 real files under ../shared: 211). DLIS arrays are not LAS curves (they stay arrays).
# The limits bound lasio's reading, which costs the square of a section's items where lasio
# reads the section whole (its duplicate-name check on each item added, and on the ~Curve
# section a look-up by name for each curve: a wrapped file of 1,000 curves took 8.7 s, of 2,000
# 34 s, on this loaded machine; a 100,000-curve file never finished). The ~Curve section of a
# file read on the fast route goes to lasio in pieces (:func:`split_curves`: 0.5 s for 2,000
# curves), so it may list more.
MAX_CURVES = 5000               # ~Curve, read in pieces
MAX_ITEMS_READ_WHOLE = 1000     # ~Version, ~Well, ~Parameter; ~Curve where lasio reads the file
_ITEM_SECTION = re.compile(r"~(?!\w*_DATA)(?:[VWCP]|\w*_(?:PARAMETER|DEFINITION)\b)", re.I)
_CURVES = re.compile(r"~(?:C|\w*_DEFINITION\b)", re.I)
_ITEM_LINE = re.compile(r"^[ \t]*[^\s#~]", re.M)
_ANY_SECTION = re.compile(r"[ \t]*~[^\n]*")


def check_header_size(text: str, path: str, *, curves_whole: bool = False) -> None:
    """Refuse a LAS file whose header sections (~Version, ~Well, ~Curve, ~Parameter, LAS 3.0
    ``_Parameter`` / ``_Definition``) list more items than lasio can read in a time in
    proportion to the file: :data:`MAX_CURVES` curves, :data:`MAX_ITEMS_READ_WHOLE` items in
    the other sections, and curves too with ``curves_whole`` (lasio reads the whole file: a
    wrapped file, or rows only its tolerant reader takes). Checked before lasio reads any of
    them, in one pass over ``text`` (the header or the whole file: data sections skipped)."""
    marks = list(section_lines(text, _ANY_SECTION))
    for k, m in enumerate(marks):
        title = m.group(0).strip()
        if not _ITEM_SECTION.match(title):
            continue
        curves = bool(_CURVES.match(title))
        limit = MAX_CURVES if curves and not curves_whole else MAX_ITEMS_READ_WHOLE
        end = marks[k + 1].start() if k + 1 < len(marks) else len(text)
        if text.count("\n", m.end(), end) <= limit:
            continue                # fewer lines than the limit: no need to count the items
        n = len(_ITEM_LINE.findall(text, m.end(), end))
        if n <= limit:
            continue
        how = (" (a wrapped file, or rows only lasio's tolerant reader takes: its reading costs "
               "the square of the curves; unwrapped numeric rows are read in pieces, up to "
               f"{MAX_CURVES:,})") if curves and curves_whole else ""
        raise InputError(f"the {title.split()[0]} section lists {n:,} "
                         f"{'curves' if curves else 'items'}; petro reads at most {limit:,}"
                         f"{how}; a real log has a few hundred: a generated or damaged file? "
                         f"Check the export", path=path,
                         line=text.count("\n", 0, m.start()) + 1, code="header_too_long")


CURVES_PER_READ = 64
_CURVE_SECTION = re.compile(r"\s*~C", re.I)


def split_curves(text: str) -> tuple[str, list[tuple[int, str]]]:
    """The header with its ~Curve section cut after :data:`CURVES_PER_READ` curve lines (the
    rest blanked, so every line keeps its number), and the rest of the ~Curve lines in pieces
    of that many, each with the line number of its first line. lasio checks every curve it adds
    against all those before it for a duplicate name, which costs the square of the number of
    curves: 57 ms for an image file of 450 curves, read whole; in pieces it stays linear."""
    lines = text.split("\n")
    start = next((i for i, ln in enumerate(lines) if _CURVE_SECTION.match(ln)), None)
    if start is None:
        return text, []
    end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("~")),
               len(lines))
    curve_lines = [i for i in range(start + 1, end)
                   if lines[i].strip() and not lines[i].lstrip().startswith("#")]
    if len(curve_lines) <= CURVES_PER_READ:
        return text, []
    pieces = []
    for k in range(CURVES_PER_READ, len(curve_lines), CURVES_PER_READ):
        a = curve_lines[k]
        b = curve_lines[k + CURVES_PER_READ] if k + CURVES_PER_READ < len(curve_lines) else end
        pieces.append((a + 1, "\n".join(lines[a:b])))
    first_cut = curve_lines[CURVES_PER_READ]
    kept = lines[:first_cut] + [""] * (end - first_cut) + lines[end:]
    return "\n".join(kept), pieces


def assign_duplicate_suffixes(curves) -> None:
    """lasio's rule, once over the whole ~Curve section: curves sharing a name (blank: UNKNOWN)
    are renamed NAME:1, NAME:2, ... in file order."""
    names = [c.useful_mnemonic for c in curves]
    seen: dict[str, int] = {}
    counts = Counter(names)
    for c, name in zip(curves, names):
        if counts[name] > 1:
            seen[name] = seen.get(name, 0) + 1
            c.set_session_mnemonic_only(f"{name}:{seen[name]}")


def _header_error(err: Exception, path: str, offset: int = 0) -> InputError:
    m = HEADER_LINE.search(str(err))
    line = int(m.group(1)) + offset if m else None
    section = m.group(2).strip() if m else "header"
    return InputError(f"cannot read this {section} line ({str(err).split(': ', 1)[-1]}); a "
                      f"header line is MNEM.UNIT VALUE : DESCRIPTION", path=path, line=line)


def header_via_lasio(path: str, header: str, version: float):
    """(lasio object or None, problems) for the header text; header errors name their line.
    A long ~Curve section goes to lasio in pieces (:func:`split_curves`), and the duplicate
    names are then suffixed as lasio would (:func:`assign_duplicate_suffixes`)."""
    text = las3_header_as_las2(header) if version >= 3 else header
    text, pieces = split_curves(text)
    try:
        with listen_to_lasio() as heard:
            las = lasio.read(io.StringIO(text + "\n~A\n"), ignore_data=True,
                             ignore_header_errors=False)
            more = []
            for first, piece in pieces:
                try:
                    part = lasio.read(io.StringIO("~Curve\n" + piece + "\n~A\n"),
                                      ignore_data=True, ignore_header_errors=False)
                except lasio.exceptions.LASHeaderError as err:   # "~Curve" is its line 1
                    raise _header_error(err, path, first - 2) from err
                more += list(part.curves)
    except lasio.exceptions.LASHeaderError as err:
        raise _header_error(err, path) from err
    except InputError:
        raise
    except Exception:  # lasio raises many kinds: the full lasio read reports it with the file
        return None, []
    if more:
        list.extend(las.curves, more)     # the list itself: SectionItems.append checks each
        assign_duplicate_suffixes(las.curves)
    return las, problems_of(heard, path)


def sections(las) -> tuple[dict, dict, list[CurveInfo]]:
    well = {str(i.mnemonic).upper(): (str(i.value), str(i.unit), str(i.descr)) for i in las.well}
    params = {str(i.mnemonic).upper(): (str(i.value), str(i.unit), str(i.descr))
              for i in las.params}
    curves = [CurveInfo(str(c.mnemonic), str(c.unit or ""), str(c.descr or "")) for c in las.curves]
    return well, params, curves
