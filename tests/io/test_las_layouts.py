"""Delimiters, column order and the bytes parser: values equal a hand-parsed reference."""

from __future__ import annotations

from pathlib import Path

import lasio
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from petro.errors import InputError
from petro.io.las import _canonical, read_las
from petro.io.las_data import column_order
from tests.io.routes import read_route
from petro.io.wells import load_well

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "las"


def _hand_parsed(name: str, delim: str | None, null: float = -999.25) -> np.ndarray:
    """The rows after the data section line, split by hand (the reference)."""
    lines = (FIX / name).read_text().splitlines()
    start = next(i for i, s in enumerate(lines) if s.lstrip().upper().startswith(("~A", "~LOG_DATA")))
    rows = [[float(v) for v in (s.split(delim) if delim else s.split())]
            for s in lines[start + 1:] if s.strip()]
    a = np.array(rows)
    a[a == null] = np.nan
    return a


@pytest.mark.parametrize("name,delim", [
    ("comma_dlm_las2.las", ","),
    ("semicolon_las3.las", ";"),
    ("comma_no_dlm.las", ","),
])
def test_delimited_files_equal_hand_parsed(name, delim):
    las, route = read_route(FIX / name)
    assert route == "fast"
    np.testing.assert_array_equal(las.data.to_numpy(float), _hand_parsed(name, delim))
    slow = read_las(FIX / name, fast=False)           # the tolerant route agrees
    np.testing.assert_array_equal(slow.data.to_numpy(float), _hand_parsed(name, delim))


def test_comma_file_gives_the_true_depths_not_lasio_s_single_column():
    w = load_well("K", [FIX / "comma_dlm_las2.las"])
    np.testing.assert_allclose(w.depth, [176.8, 176.9524, 177.1048, 177.2572, 177.4096])
    assert w.curves["RHOB"].iloc[1] == 2.402 and np.isnan(w.curves["GR"].iloc[2])
    w3 = load_well("K", [FIX / "semicolon_las3.las"])
    assert w3.depth[-1] == pytest.approx(1599.4572) and w3.curves["GR"].iloc[2] == 92.75


def test_named_a_line_maps_shuffled_curve_section_by_name():
    las = read_las(FIX / "shuffled_curve_named_a.las")
    ref = _hand_parsed("shuffled_curve_named_a.las", None)  # Depth CASEOD MATRXDEN RHOB NPHI
    np.testing.assert_array_equal(las.data["DEPTH"], ref[:, 0])
    np.testing.assert_array_equal(las.data["CASEOD"], ref[:, 1])
    np.testing.assert_array_equal(las.data["RHOB"], ref[:, 3])
    np.testing.assert_array_equal(las.data["NPHI"], ref[:, 4])
    assert any(p.code == "column_order" and "CASEOD" in p.message for p in las.problems)
    slow = read_las(FIX / "shuffled_curve_named_a.las", fast=False)
    np.testing.assert_array_equal(slow.data["RHOB"], ref[:, 3])
    w = load_well("S", [FIX / "shuffled_curve_named_a.las"])
    np.testing.assert_allclose(w.depth, np.array([145.0, 145.5, 146.0, 146.5]) * 0.3048)
    assert w.curves["RHOB"].max() == 2.5


def test_a_line_names_that_cannot_be_matched_are_refused_naming_both_orders():
    for fast in (True, False):
        with pytest.raises(InputError, match=r"~Curve order: DEPT CASEOD RHOB NPHI; ~A order: "
                                             r"Depth NEUT CASEOD DEN"):
            read_las(FIX / "shuffled_unnamed_mismatch.las", fast=fast)


def test_kgs_like_depth_alias_on_the_a_line_is_mapped_by_name():
    """~A names Depth where ~Curve says DEPT, and lists ILD before RHOB and NPHI: the alias
    table makes Depth the depth curve, so the columns are mapped by name (was refused)."""
    ref = _hand_parsed("kgs_depth_named_a.las", None)         # Depth GR ILD RHOB NPHI
    for fast in (True, False):
        las = read_las(FIX / "kgs_depth_named_a.las", fast=fast)
        assert list(las.data.columns) == ["DEPT", "GR", "RHOB", "NPHI", "ILD"]
        for name, col in (("DEPT", 0), ("GR", 1), ("ILD", 2), ("RHOB", 3), ("NPHI", 4)):
            np.testing.assert_array_equal(las.data[name], ref[:, col])
        note = [p.message for p in las.problems if p.code == "column_order"]
        assert len(note) == 1 and "RHOB, NPHI, ILD moved" in note[0] and "Depth as DEPT" in note[0]
    w = load_well("K", [FIX / "kgs_depth_named_a.las"])
    np.testing.assert_allclose(w.depth, np.arange(1000.0, 1002.01, 0.5) * 0.3048)
    assert w.curves["RHOB"].iloc[0] == 2.45 and np.isnan(w.curves["RT"].iloc[2])


def test_a_true_conflict_is_refused_naming_both_orders():
    """NPHI stands where ~Curve lists RHOB, and DT matches no curve: refused, both orders named."""
    for fast in (True, False):
        with pytest.raises(InputError, match=r"kgs_true_conflict.las.*~Curve order: DEPT GR RHOB "
                                             r"NPHI; ~A order: Depth GR NPHI DT"):
            read_las(FIX / "kgs_true_conflict.las", fast=fast)


@pytest.mark.parametrize("curves,a_names,order", [
    ("DEPT GR RHOB", "Depth GR RHOB", None),            # spelling only, nothing moves
    ("DEPT GR RHOB", "depth rhob gr", [0, 2, 1]),        # case and alias, two moved
    ("DEPT GR RHOB", "Depth GR FOO", None),              # an unknown name where a curve stands
    ("GR DEPT RHOB", "MD GR RHOB", [1, 0, 2]),           # depth listed second in ~Curve
])
def test_column_order_resolves_aliases(curves, a_names, order):
    got, _ = column_order(curves.split(), a_names.split(), _canonical)
    assert got == order


@pytest.mark.parametrize("curves,a_names", [
    ("DEPT GR RHOB", "Depth RHOB DT"),       # RHOB stands where GR is listed; DT matches nothing
    ("DEPT MD GR", "DEPTH GR TDEP"),         # two depth names on each side: nothing by alias
])
def test_column_order_refuses_true_conflicts(curves, a_names):
    with pytest.raises(ValueError, match="~Curve order"):
        column_order(curves.split(), a_names.split(), _canonical)


def test_las3_without_log_data_names_the_cause():
    with pytest.raises(InputError, match="no log data section.*Lithology_Data"):
        read_las(FIX / "las3_lithology_only.las")


def test_parameter_line_error_names_its_line():
    with pytest.raises(InputError, match=r"line 12: cannot read this ~Parameter") as exc:
        read_las(FIX / "param_bad_line.las")
    assert "~A" not in str(exc.value)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n_rows=st.integers(1, 30), n_cols=st.integers(1, 6), data=st.data(),
       sep=st.sampled_from([" ", "  ", "\t", " \t "]), pad=st.booleans())
def test_bytes_parser_equals_lasio_on_random_files(tmp_path, n_rows, n_cols, data, sep, pad):
    values = data.draw(st.lists(st.floats(-1e6, 1e6, allow_nan=False, width=64),
                                min_size=n_rows * n_cols, max_size=n_rows * n_cols))
    fmt = data.draw(st.sampled_from(["{!r}", "{:.4f}", "{:.6g}", "{:.3E}"]))
    depth = 1000 + np.arange(n_rows) * 0.1524
    lines = []
    for i in range(n_rows):
        cells = [f"{depth[i]:.4f}"] + [fmt.format(v) for v in values[i * n_cols:(i + 1) * n_cols]]
        lines.append(("  " if pad else "") + sep.join(cells))
    curves = "\n".join(f" C{j}.V/V : curve {j}" for j in range(n_cols))
    text = (f"~Version\n VERS. 2.0 : v\n WRAP. NO : w\n~Well\n NULL. -999.25 : null\n"
            f"~Curve\n DEPT.M : depth\n{curves}\n~A\n" + "\n".join(lines) + "\n")
    path = tmp_path / "r.las"
    path.write_text(text)
    ref = lasio.read(path).df().reset_index().to_numpy(float)
    ref[ref == -999.25] = np.nan
    got, route = read_route(path)
    assert route == "fast"
    np.testing.assert_array_equal(got.data.to_numpy(float), ref)


@pytest.mark.parametrize("padded", [False, True])
def test_parts_and_blocks_boundaries_equal_lasio(tmp_path, monkeypatch, padded):
    """Tiny parts and blocks: the rows split across threads and blocks come back whole."""
    import petro.io.las_data as las_data

    monkeypatch.setattr(las_data, "_THREADS_ABOVE", 200)
    monkeypatch.setattr(las_data, "_BLOCK", 97)
    rng = np.random.default_rng(5)
    depth = 1000 + np.arange(120) * 0.1524
    vals = np.round(rng.normal(50, 10, (120, 3)), 3)
    sep = "   " if padded else " "
    rows = [sep.join([f"{d:.4f}"] + [f"{v:g}" for v in r]) for d, r in zip(depth, vals)]
    rows.insert(60, "")                                   # a blank line: fewer rows than lines
    text = ("~Version\n VERS. 2.0 : v\n WRAP. NO : w\n~Well\n NULL. -999.25 : null\n~Curve\n"
            " DEPT.M : d\n A.V/V : a\n B.V/V : b\n C.V/V : c\n~A\n" + "\n".join(rows) + "\n")
    path = tmp_path / "parts.las"
    path.write_text(text)
    assert len(las_data.locate(str(path), threads=2).parts) == 2
    got, route = read_route(path, threads=2)
    assert route == "fast"
    np.testing.assert_array_equal(got.data.to_numpy(float), np.column_stack([depth, vals]))


_HEADER = ("~Version\n VERS. 2.0 : v\n WRAP. NO : w\n~Well\n NULL. {null} : null\n~Curve\n"
           " DEPT.M : d\n A.V/V : a\n B.V/V : b\n C.V/V : c\n~A\n")


def _rows(n: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack([1000 + np.arange(n) * 0.1524, np.round(rng.normal(50, 10, (n, 3)), 3)])


def _text(rows: np.ndarray) -> list[str]:
    return [" ".join(f"{v:.4f}" for v in r) for r in rows]


@pytest.fixture
def small_parts(monkeypatch):
    """Parts and blocks of a few hundred bytes, so small files take the two-thread path."""
    import petro.io.las_data as las_data

    monkeypatch.setattr(las_data, "_THREADS_ABOVE", 200)
    monkeypatch.setattr(las_data, "_BLOCK", 160)
    monkeypatch.setattr(las_data, "_CHUNK", 64)
    return las_data


@pytest.mark.parametrize("threads", [1, 2])
def test_crlf_rows_take_the_fast_path_and_equal_lasio(tmp_path, small_parts, threads):
    rows = _rows(80)
    path = tmp_path / "crlf.las"
    path.write_bytes((_HEADER.format(null="-999.25") + "\n".join(_text(rows)) + "\n")
                     .replace("\n", "\r\n").encode())
    got, route = read_route(path, threads=threads)
    assert route == "fast"
    np.testing.assert_array_equal(got.data.to_numpy(float), rows)
    np.testing.assert_array_equal(got.data.to_numpy(float),
                                  lasio.read(path).df().reset_index().to_numpy(float))


@pytest.mark.parametrize("threads", [1, 2])
def test_lone_carriage_return_takes_the_tolerant_route(tmp_path, small_parts, threads):
    """Arrow and lasio take a lone CR as a line break, the line count does not: more rows than
    counted lines must not overrun the array (it raised a numpy ValueError); lasio reads it."""
    rows = _rows(80)
    lines = _text(rows)
    path = tmp_path / "cr.las"
    path.write_text(_HEADER.format(null="-999.25") + "\n".join(lines[:70]) + "\r"
                    + "\n".join(lines[70:]) + "\n", newline="")
    got, route = read_route(path, threads=threads)
    assert route == "tolerant"
    np.testing.assert_array_equal(got.data.to_numpy(float), rows)


@pytest.mark.parametrize("threads", [1, 2])
def test_last_line_without_a_line_break_is_read(tmp_path, small_parts, threads):
    rows = _rows(50)
    path = tmp_path / "nonl.las"
    path.write_text(_HEADER.format(null="-999.25") + "\n".join(_text(rows)))
    layout = small_parts.locate(str(path), threads=threads)
    assert len(layout.parts) == threads and sum(n for _, _, n in layout.parts) == 50
    got, route = read_route(path, threads=threads)
    assert route == "fast"
    np.testing.assert_array_equal(got.data.to_numpy(float), rows)
    np.testing.assert_array_equal(got.data.to_numpy(float),
                                  lasio.read(path).df().reset_index().to_numpy(float))


@pytest.mark.parametrize("n_rows,n_parts", [(5, 1), (60, 2)])
def test_a_section_after_the_rows_ends_them_in_either_half(tmp_path, small_parts, n_rows,
                                                           n_parts):
    """Rows followed by another section: with 5 rows the section starts in the first half (the
    second half, all text, is not parsed); with 60 it starts in the second."""
    rows = _rows(n_rows)
    tail = "~Other_Section\n" + "".join(f" ITEM{i}. {i} : text line {i}\n" for i in range(40))
    path = tmp_path / "tail.las"
    path.write_text(_HEADER.format(null="-999.25") + "\n".join(_text(rows)) + "\n" + tail)
    layout = small_parts.locate(str(path), threads=2)
    assert len(layout.parts) == n_parts and sum(n for _, _, n in layout.parts) == n_rows
    got, route = read_route(path, threads=2)
    assert route == "fast"
    np.testing.assert_array_equal(got.data.to_numpy(float), rows)


def test_blank_lines_in_both_halves_leave_no_gap(tmp_path, small_parts):
    rows = _rows(90)
    lines = _text(rows)
    for at in (80, 20, 10):                 # blank lines in each half
        lines.insert(at, "")
    path = tmp_path / "blank.las"
    path.write_text(_HEADER.format(null="-999.25") + "\n".join(lines) + "\n")
    assert len(small_parts.locate(str(path), threads=2).parts) == 2
    got, route = read_route(path, threads=2)
    assert route == "fast"
    np.testing.assert_array_equal(got.data.to_numpy(float), rows)


@pytest.mark.parametrize("threads", [1, 2])
def test_the_file_s_null_value_becomes_nan_and_only_it(tmp_path, small_parts, threads):
    rows = _rows(60)
    rows[[3, 41], 1] = -9999.0
    rows[7, 2] = -999.25                    # not this file's NULL: a value
    path = tmp_path / "null.las"
    path.write_text(_HEADER.format(null="-9999") + "\n".join(_text(rows)) + "\n")
    got = read_las(path, threads=threads).data.to_numpy(float)
    want = np.where(rows == -9999.0, np.nan, rows)
    np.testing.assert_array_equal(got, want)
    assert got[7, 2] == -999.25 and np.isnan(got[41, 1])
    np.testing.assert_array_equal(got, lasio.read(path).df().reset_index().to_numpy(float))


def test_text_null_marker_is_reported_not_silently_missing(tmp_path):
    """Arrow reads 'NA' as a null by default; the fast path refuses it, so the tolerant route
    reads it as missing and says so."""
    rows = _rows(6)
    lines = _text(rows)
    lines[2] = lines[2].rsplit(" ", 1)[0] + " NA"
    path = tmp_path / "na.las"
    path.write_text(_HEADER.format(null="-999.25") + "\n".join(lines) + "\n")
    got, route = read_route(path)
    assert route == "tolerant" and any(p.code == "text_null" for p in got.problems)
    want = rows.copy()
    want[2, 3] = np.nan
    np.testing.assert_array_equal(got.data.to_numpy(float), want)


@pytest.mark.parametrize("cpus,env,parts", [
    (2, {}, 2), (1, {}, 1),
    (2, {"OMP_NUM_THREADS": "1"}, 1),                   # a Dask worker (its nanny sets it)
    (2, {"OMP_NUM_THREADS": "junk"}, 2)])
def test_default_threads_split_large_rows_only_with_more_than_one_cpu(tmp_path, small_parts,
                                                                     monkeypatch, cpus, env,
                                                                     parts):
    import petro.io.las as las_module

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)

    seen = []

    def spy(path, threads=1):
        layout = small_parts.locate(path, threads)
        seen.append(len(layout.parts))
        return layout

    monkeypatch.setattr(las_module, "_cpus", lambda: cpus)
    monkeypatch.setattr(las_module, "locate", spy)
    rows = _rows(80)
    path = tmp_path / "auto.las"
    path.write_text(_HEADER.format(null="-999.25") + "\n".join(_text(rows)) + "\n")
    got, route = read_route(path)
    assert seen == [parts] and route == "fast"
    np.testing.assert_array_equal(got.data.to_numpy(float), rows)


def test_blocks_shrink_with_the_rows_and_the_threads():
    """Blocks in flight at most 1/32 of the rows (halving down to _MIN_BLOCK), halved once more
    for the whitespace split."""
    from petro.io.las_data import _BLOCK, _MIN_BLOCK, Layout, _block

    def layout(mb, parts):
        end = int(mb * (1 << 20))
        return Layout(b"", "~A", 1, 0, end, end, [(0, end, 0)] * parts)

    assert _block(layout(58, 1), False) == _BLOCK and _block(layout(58, 2), False) == _BLOCK // 2
    assert _block(layout(58, 2), True) == _BLOCK // 4
    assert _block(layout(19, 1), False) == _BLOCK // 2           # 1 MB > 19 MB / 32
    assert _block(layout(19, 2), False) == _BLOCK // 4
    assert _block(layout(0.1, 1), False) == _MIN_BLOCK == _block(layout(0.1, 1), True)


def _no_split(monkeypatch):
    """Fail the test if the rows go through the slow whitespace split."""
    import petro.io.las_data as las_data

    def split(*args, **kwargs):
        raise AssertionError("the rows took the whitespace split")

    monkeypatch.setattr(las_data, "_split_part", split)


@pytest.mark.parametrize("threads", [1, 2])
def test_right_aligned_columns_as_lasio_writes_them_skip_the_split(tmp_path, small_parts,
                                                                   monkeypatch, threads):
    """lasio's own writer (leading blanks, runs of blanks, NULLs wider than the values): the
    blanks before each value are marked and Arrow reads the fields, values equal lasio's."""
    _no_split(monkeypatch)
    rows = _rows(90)
    rows[::7, 2] = -999.25
    las = lasio.LASFile()
    las.well["NULL"].value = -999.25
    for j, name in enumerate(["DEPT", "A", "B", "C"]):
        las.append_curve(name, rows[:, j], unit="M" if j == 0 else "V/V")
    path = tmp_path / "lasio.las"
    with open(path, "w") as fh:
        las.write(fh, version=2.0, fmt="%.4f")
    assert b"\n  1000.0000" in path.read_bytes()       # the layout this test is about
    ref = lasio.read(path).df().reset_index().to_numpy(float)
    ref[ref == -999.25] = np.nan
    got, route = read_route(path, threads=threads)
    assert route == "fast"
    np.testing.assert_array_equal(got.data.to_numpy(float), ref)
    assert np.isnan(got.data["B"].to_numpy()[::7]).all()


@pytest.mark.parametrize("lead", ["", "   ", "\t"])
@pytest.mark.parametrize("sep", ["  ", "\t", " \t ", "     "])
def test_blank_runs_tabs_crlf_and_trailing_blanks_skip_the_split(tmp_path, small_parts,
                                                                 monkeypatch, lead, sep):
    _no_split(monkeypatch)
    rows = _rows(40)
    text = [lead + sep.join(f"{v:.4f}" for v in r) + ("  " if i % 3 else "")
            for i, r in enumerate(rows)]
    path = tmp_path / "runs.las"
    path.write_bytes((_HEADER.format(null="-999.25") + "\r\n".join(text) + "\r\n").encode())
    got, route = read_route(path, threads=2)
    assert route == "fast"
    np.testing.assert_array_equal(got.data.to_numpy(float), rows)


def test_rows_with_and_without_leading_blanks_are_read_whole(tmp_path, small_parts):
    """Right-aligned depths that outgrow their column (999.5 -> 1000.0): the field count
    changes, the marked reading gives up and the whitespace split reads every row."""
    rows = _rows(30)
    rows[:, 0] = 995 + np.arange(30) * 0.5
    text = [f"{r[0]:>6.1f}  " + "  ".join(f"{v:.4f}" for v in r[1:]) for r in rows]
    assert text[0].startswith(" ") and not text[-1].startswith(" ")
    path = tmp_path / "grow.las"
    path.write_text(_HEADER.format(null="-999.25") + "\n".join(text) + "\n")
    got, route = read_route(path, threads=2)
    assert route == "fast"
    np.testing.assert_array_equal(got.data.to_numpy(float), rows)


def test_a_comma_in_blank_delimited_rows_is_never_taken_for_a_delimiter(tmp_path):
    """A decimal comma in a later row: marking blanks as commas would read '1,5' as two values
    and, here, fill the row's missing value silently. The block is refused instead, and the row
    is reported with its line."""
    text = "  1000.0  1.5  2.0  3.0\n  1000.5  1,5  2.0\n"
    path = tmp_path / "comma.las"
    path.write_text(_HEADER.format(null="-999.25") + text)
    with pytest.raises(InputError, match="3 values where the ~Curve section lists 4") as exc:
        read_las(path)
    assert exc.value.line == 13
