"""DLIS (written with dliswriter) and CSV image files read into the same well model as LAS."""

from __future__ import annotations

import numpy as np
import pytest

from petro.errors import ConfigError, InputError
from petro.io.discovery import discover
from petro.io.wells import IngestOptions, load_well
from petro.targets.nmr import TargetParams, compute_targets

N = 120


def _write_dlis(path, with_t2_axis=True):
    from dliswriter import DLISFile, enums

    rng = np.random.default_rng(0)
    f = DLISFile()
    lf = f.add_logical_file()
    lf.add_origin("ORIGIN", well_name="DL-1", field_name="TEST FIELD")
    depth = 3280.0 + np.arange(N) * 0.5                      # feet
    t2 = np.zeros((N, 10))
    t2[:, 3] = 0.05                                           # 10 ms: bound
    t2[:, 8] = 0.15                                           # ~1200 ms: free
    amp = rng.normal(60, 5, (N * 1, 36)).astype(np.float32)
    amp[40:60, :6] = 20.0                                     # a dark patch
    chans = [lf.add_channel("DEPT", data=depth, units=enums.Unit.FOOT),
             lf.add_channel("GR", data=rng.uniform(20, 80, N), units="gAPI"),
             lf.add_channel("RHOZ", data=rng.uniform(2.3, 2.6, N), units="g/cm3"),
             lf.add_channel("T2DIST", data=t2, long_name="T2 distribution"),
             lf.add_channel("AMP", data=amp, long_name="Acoustic amplitude")]
    lf.add_frame("MAIN", channels=chans, index_type=enums.FrameIndexType.BOREHOLE_DEPTH)
    if with_t2_axis:
        lf.add_parameter("T2MIN", values=[0.3])
        lf.add_parameter("T2MAX", values=[3000.0])
    f.write(str(path))


def test_dlis_scalar_and_array_channels(tmp_path):
    path = tmp_path / "dl1.dlis"
    _write_dlis(path)
    w = load_well("DL-1", [path])
    np.testing.assert_allclose(w.depth[:2], np.array([3280.0, 3280.5]) * 0.3048)
    assert w.provenance["RHOB"].original == "RHOZ"
    img = w.images["acoustic_amplitude"]
    assert img.values.shape == (N, 36) and img.values.dtype == np.float32
    assert img.values[45, 0] == 20.0
    assert w.t2_bins is not None and w.t2_bins.amplitudes.shape == (N, 10)
    t, rep, _ = compute_targets(w, TargetParams(lithology="carbonate"))
    # phi = 20 p.u., FFI/BVI = 3 -> 144 mD, from the T2 array and its bin axis
    assert rep["source"].startswith("T2 distribution")
    assert t["PERM"].to_numpy() == pytest.approx([144.0] * N)
    assert discover(tmp_path) == {"DL-1": [path]}          # the ORIGIN well name


def test_dlis_array_image_depth_shift_is_applied_and_reported(tmp_path):
    """ingest.depth_shift_m moves a DLIS array image as it moves LAS sector curves, and says so
    (the array route used to shift it silently)."""
    path = tmp_path / "dl1.dlis"
    _write_dlis(path)
    w = load_well("DL-1", [path], IngestOptions(depth_shift_m={"acoustic_amplitude": 0.25}))
    img = w.images["acoustic_amplitude"]
    np.testing.assert_allclose(img.depth, 3280.0 * 0.3048 + np.arange(N) * 0.5 * 0.3048 + 0.25)
    np.testing.assert_allclose(w.depth[0], 3280.0 * 0.3048)       # the curves stay
    notes = [p for p in w.problems if p.code == "depth_shift"]
    assert [p.message for p in notes] == ["image AMP: depth shifted by +0.250 m"]
    assert notes[0].path == f"{path}#MAIN"                       # the file and its frame
    unshifted = load_well("DL-1", [path])
    assert not [p for p in unshifted.problems if p.code == "depth_shift"]
    with pytest.raises(ConfigError, match="per image kind"):
        IngestOptions(depth_shift_m={"AMP": 0.25})     # a stem is not a kind: said, not ignored


def test_dlis_t2_without_axis_is_reported_not_fatal(tmp_path):
    path = tmp_path / "dl2.dlis"
    _write_dlis(path, with_t2_axis=False)
    w = load_well("DL-2", [path])
    assert w.t2_bins is None and "GR" in w.curves
    assert any(p.code == "t2_unusable" and "T2DIST" in p.message for p in w.problems)
    edges = list(np.logspace(np.log10(0.3), np.log10(3000), 11))
    w2 = load_well("DL-2", [path], IngestOptions(t2_edges_ms=edges))
    assert w2.t2_bins is not None


@pytest.mark.parametrize("content", [b"", b"\x00\x01garbage" * 100, b"~Version\nnot dlis\n"])
def test_bad_dlis_is_a_named_error(tmp_path, content):
    path = tmp_path / "bad.dlis"
    path.write_bytes(content)
    with pytest.raises(InputError, match="bad.dlis"):
        load_well("X", [path])


def test_csv_image_with_numbered_columns(tmp_path):
    rng = np.random.default_rng(1)
    depth = 1000 + np.arange(400) * 0.005
    vals = rng.normal(10, 1, (400, 24))
    header = "DEPTH [m]," + ",".join(str(j) for j in range(24))
    rows = "\n".join(f"{d:.4f}," + ",".join(f"{v:.4f}" for v in row) for d, row in zip(depth, vals))
    (tmp_path / "fmi.csv").write_text(header + "\n" + rows + "\n")
    w = load_well("C", [tmp_path / "fmi.csv"], IngestOptions(image_kinds={"FMI": "resistive"}))
    img = w.images["resistive"]
    assert img.values.shape == (400, 24)
    np.testing.assert_allclose(img.values[:, 3], vals[:, 3], atol=1e-4)
    np.testing.assert_allclose(img.depth, depth, atol=1e-6)


def test_csv_image_in_feet_from_header(tmp_path):
    (tmp_path / "amp.csv").write_text("DEPT(ft)," + ",".join(f"AMP{j:03d}" for j in range(1, 13)) +
                                      "\n" + "\n".join(f"{3000 + i * 0.02:.2f}," +
                                                        ",".join(["5.0"] * 12) for i in range(50)))
    w = load_well("A", [tmp_path / "amp.csv"])
    assert w.images["acoustic_amplitude"].depth[0] == pytest.approx(3000 * 0.3048)


from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(min_size=0, max_size=3000), suffix=st.sampled_from([".dlis", ".csv"]))
def test_fuzz_dlis_and_csv_readers_raise_only_petro_errors(tmp_path, raw, suffix):
    from petro.errors import PetroError

    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(raw)
    try:
        load_well("F", [path])
    except PetroError:
        pass
