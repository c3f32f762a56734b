"""A long ~Curve section goes to lasio in pieces: the curves, their duplicate suffixes and the
line a header error names are lasio's own as if it had read the section whole."""

from __future__ import annotations

import io

import lasio
import numpy as np
import pytest

from petro.errors import InputError
from petro.io.las import read_las
from petro.io.las_header import CURVES_PER_READ, header_via_lasio, problems_of, split_curves

_HEAD = ("~Version\n VERS. 2.0 :\n WRAP. NO :\n~Well\n STRT.M 100.0 :\n STOP.M 100.2 :\n"
         " STEP.M 0.1 :\n NULL. -999.25 :\n~Curve\n DEPT.M : depth\n")


def _curves(n: int) -> list[str]:
    names = [f"AMP{i:03d}" for i in range(n)]
    for k in range(5, n, 37):          # duplicates in every piece, a blank name (UNKNOWN)
        names[k] = "DUP"
    names[2] = names[n - 1] = ""
    names[9] = "dup"                   # lasio upper-cases names: one more DUP
    return [f" {m}.dB : amplitude {i}" + ("\n# a comment line" if i % 50 == 7 else "")
            for i, m in enumerate(names)]


@pytest.mark.parametrize("n", [CURVES_PER_READ - 1, CURVES_PER_READ, CURVES_PER_READ + 1, 300])
def test_curves_equal_lasios_whole_read(n):
    header = _HEAD + "\n".join(_curves(n)) + "\n~Parameter\n BS.IN 8.5 : bit size\n"
    ref = lasio.read(io.StringIO(header + "~A\n"), ignore_data=True)
    las, problems = header_via_lasio("f.las", header, 2.0)
    got = [(c.mnemonic, c.original_mnemonic, c.unit, c.descr) for c in las.curves]
    assert got == [(c.mnemonic, c.original_mnemonic, c.unit, c.descr) for c in ref.curves]
    assert len(got) == n + 1 and problems == []
    assert (n + 1 > CURVES_PER_READ) == bool(split_curves(header)[1])   # + DEPT
    if n == 300:
        names = [c[0] for c in got]
        assert "DUP:1" in names and "DUP:9" in names and "UNKNOWN:2" in names
    assert [p.mnemonic for p in las.params] == ["BS"]      # the section after ~Curve is read


def test_a_bad_curve_line_deep_in_a_long_section_is_named_by_its_file_line(tmp_path):
    lines = _curves(200)
    lines[150] = " AMP150 dB  no period here"
    text = _HEAD + "\n".join(lines) + "\n~A\n" + "100.0 " + " ".join(["1"] * 200) + "\n"
    want = text.split("\n").index(" AMP150 dB  no period here") + 1
    path = tmp_path / "bad.las"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        read_las(path)
    assert err.value.line == want and "~Curve" in str(err.value)


def test_a_wide_file_reads_with_the_pieced_header_and_equals_lasio(tmp_path):
    n = 150
    header = _HEAD + "\n".join(_curves(n)) + "\n"
    rows = np.round(np.random.default_rng(0).normal(size=(5, n)), 4)
    body = "\n".join(f"{100 + 0.1 * i:.1f} " + " ".join(f"{v:.4f}" for v in r)
                     for i, r in enumerate(rows))
    path = tmp_path / "wide.las"
    path.write_text(header + "~A\n" + body + "\n")
    got = read_las(path)
    ref = lasio.read(path).df()
    assert list(got.data.columns)[-n:] == list(ref.columns)
    np.testing.assert_array_equal(got.data.to_numpy(float)[:, -n:], ref.to_numpy(float))


def test_index_unit_warning_is_the_same_whatever_lasio_s_set_order():
    """lasio prints the conflicting units as a set, whose order changes from process to process."""
    a, b = (problems_of([f"Conflicting index units found: {units}"], "x.las")[0].message
            for units in ("{'M', 'FT'}", "{'FT', 'M'}"))
    assert a == b and "('FT', 'M')" in a
