"""Hostile LAS files are refused at a cost in proportion to the file: a ~Curve section of
thousands of curves before lasio reads it (lasio's duplicate-name check costs the square of the
curves), text after a LAS header from its first block of rows, before the file is read whole."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import lasio
import pytest

import petro.io.las as las_module
import petro.io.las_header as las_header
from petro.errors import InputError
from petro.io.las import read_las

_HEAD = ("~Version\n VERS. 2.0 : v\n WRAP. {wrap} : w\n~Well\n STRT.M 1000 : start\n"
         " STOP.M 1001 : stop\n STEP.M 0.5 : step\n NULL. -999.25 : null\n WELL. HOSTILE : well\n")
_WORDS = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor".split()


def _curves(n: int) -> str:
    return "~Curve\n DEPT.M : depth\n" + "".join(f" C{j:05d}.V/V : curve {j}\n"
                                                  for j in range(n - 1))


def _rows(n_rows: int, n_curves: int) -> str:
    return "".join(" ".join([f"{1000 + 0.5 * i:.1f}"] + ["1.5"] * (n_curves - 1)) + "\n"
                   for i in range(n_rows))


@pytest.fixture
def no_lasio(monkeypatch):
    """lasio must not be called: it would read the ~Curve section (or the rows) whole."""
    def refuse(*args, **kwargs):
        raise AssertionError("lasio.read was called")
    monkeypatch.setattr(lasio, "read", refuse)


@pytest.mark.parametrize("wrap,fast", [("NO", True), ("NO", False), ("YES", True)])
def test_twenty_thousand_curves_are_refused_before_lasio_reads_them(tmp_path, no_lasio, wrap,
                                                                     fast):
    path = tmp_path / "curves.las"
    path.write_text(_HEAD.format(wrap=wrap) + _curves(20000) + "~A\n" + _rows(2, 20000))
    with pytest.raises(InputError, match=r"curves.las, line 10: the ~Curve section lists 20,000 "
                                         r"curves; petro reads at most 5,000") as err:
        read_las(path, fast=fast)
    assert err.value.code == "header_too_long"


def test_limits_count_items_not_lines_and_depend_on_how_lasio_reads(tmp_path, monkeypatch):
    """At a limit a file is read, one item more is refused; comment and blank lines do not count.
    The ~Curve section of an unwrapped file goes to lasio in pieces and may list more curves than
    that of a wrapped one (lasio reads it whole); ~Parameter is read whole on every route."""
    monkeypatch.setattr(las_header, "MAX_CURVES", 40)
    monkeypatch.setattr(las_header, "MAX_ITEMS_READ_WHOLE", 30)
    path = tmp_path / "at.las"
    path.write_text(_HEAD.format(wrap="NO") + _curves(40).replace("\n C", "\n# comment\n\n C")
                    + "~A\n" + _rows(3, 40))
    assert read_las(path).data.shape == (3, 40)
    path.write_text(_HEAD.format(wrap="NO") + _curves(41) + "~A\n" + _rows(3, 41))
    with pytest.raises(InputError, match="lists 41 curves; petro reads at most 40; a real log"):
        read_las(path)
    path.write_text(_HEAD.format(wrap="YES") + _curves(31) + "~A\n" + _rows(3, 31))
    with pytest.raises(InputError, match=r"lists 31 curves; petro reads at most 30 \(a wrapped "
                                         r"file"):
        read_las(path)
    path.write_text(_HEAD.format(wrap="YES") + _curves(30) + "~A\n" + _rows(3, 30))
    assert read_las(path).data.shape == (3, 30)
    params = "~Parameter\n" + "".join(f" P{j}.M {j} : parameter\n" for j in range(31))
    path.write_text(_HEAD.format(wrap="NO") + _curves(3) + params + "~A\n" + _rows(3, 3))
    for fast in (True, False):
        with pytest.raises(InputError, match=r"line 14: the ~Parameter section lists 31 items"):
            read_las(path, fast=fast)


def _garbage(n_bytes: int, per_line: int = 12) -> str:
    line = " ".join(_WORDS[(i * 5) % len(_WORDS)] for i in range(per_line)) + "\n"
    return line * (n_bytes // len(line) + 1)


_PEAK = """
import json, sys
from petro.errors import InputError
from petro.io.las import read_las

def status(key):
    with open("/proc/self/status") as fh:
        return next(int(s.split()[1]) << 10 for s in fh if s.startswith(key))

read_las(sys.argv[1])                        # first-use allocations of lasio, Arrow, pandas
out = []
for path in sys.argv[2:]:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")                        # the peak RSS starts again from here
    rss = status("VmRSS")
    try:
        read_las(path)
    except InputError as err:
        out.append([status("VmHWM") - rss, str(err)])
print(json.dumps(out))
"""


def test_text_after_a_las_header_is_refused_from_the_first_block(tmp_path):
    """16 and 64 MB of text after ~A: refused from the first block of rows (about 1 MB), with
    the line of the first text row, at the same peak memory whatever the file's size (the
    buffers that scan and sample the rows; a process of its own, whose peak RSS is only this)."""
    small = tmp_path / "small.las"
    small.write_text(_HEAD.format(wrap="NO") + _curves(5) + "~A\n" + _rows(3, 5))
    paths = []
    for mb in (16, 64):
        paths.append(tmp_path / f"garbage{mb}.las")
        paths[-1].write_text(_HEAD.format(wrap="NO") + _curves(5) + "~A\n"
                             + _garbage(mb << 20, per_line=5))   # 5 values, 5 curves
    out = subprocess.run([sys.executable, "-c", _PEAK, str(small), *map(str, paths)],
                         check=True, capture_output=True, text=True).stdout
    (peak16, msg16), (peak64, msg64) = json.loads(out)
    for message in (msg16, msg64):
        assert re.search(r"garbage\d+.las, line 17: the data section does not hold log data: .* "
                         r"rows do not start with a number", message), message
    assert peak64 < 32 << 20 and peak64 < peak16 + (4 << 20), (peak16, peak64)


def test_text_rows_are_refused_before_the_file_is_read_whole(tmp_path, monkeypatch):
    path = tmp_path / "garbage.las"
    path.write_text(_HEAD.format(wrap="NO") + _curves(5) + "~A\n" + _garbage(4 << 20))
    monkeypatch.setattr(las_module, "_read_text", lambda *a: pytest.fail("read whole"))
    with pytest.raises(InputError, match="line 17: the data section does not hold log data"):
        read_las(path)


def test_text_rows_are_refused_on_every_route(tmp_path, no_lasio):
    """Read whole (fast=False), wrapped or not: the same refusal, before lasio."""
    for wrap in ("NO", "YES"):
        path = tmp_path / f"garbage_{wrap}.las"
        path.write_text(_HEAD.format(wrap=wrap) + _curves(5) + "~A\n" + _garbage(20000))
        for fast in (True, False):
            with pytest.raises(InputError, match="line 17: the data section does not hold log"):
                read_las(path, fast=fast)


def test_a_few_text_rows_among_numbers_still_take_the_tolerant_route(tmp_path):
    """Rows that start with numbers and hold a text value or a text null marker are log data:
    read as before (the text null read as missing, reported)."""
    path = tmp_path / "text_null.las"
    rows = _rows(6, 3).replace("1000.5 1.5", "1000.5 NA").replace("1001.0", "(null)")
    path.write_text(_HEAD.format(wrap="NO") + _curves(3) + "~A\n" + rows)
    got = read_las(path)
    assert got.data.shape == (6, 3) and any(p.code == "text_null" for p in got.problems)
