"""Issue 20 bad-input corpus through `hfm climate curate`: lying headers, cut GRIB, wrong units, foreign files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from hfm.shared.testing.bad_inputs import Probe, check_curate_command, grib2_message, netcdf3_record_bomb


def _field(path, start: str, values: np.ndarray, units: str = "K") -> None:
    times = pd.date_range(start, periods=values.shape[0], freq="6h")
    coords = {"time": times, "lat": np.linspace(50, 40, values.shape[1]), "lon": np.linspace(0, 8, values.shape[2])}
    xr.Dataset({"t2m": (("time", "lat", "lon"), values, {"units": units})}, coords=coords).to_netcdf(path)


DESCRIBE = ["--license", "CC-BY-4.0", "--creator", "HFM tests"]


def test_hostile_climate_folder(tmp_path):
    raw, outside = tmp_path / "raw", tmp_path / "elsewhere"
    raw.mkdir()
    outside.mkdir()
    rng = np.random.default_rng(0)
    _field(raw / "a_good.nc", "2000-01-01", 280 + rng.standard_normal((8, 4, 5)))
    _field(raw / "b_good.nc", "2000-01-03", 280 + rng.standard_normal((8, 4, 5)))
    _field(raw / "c_kelvin_as_degc.nc", "2000-01-05", 280 + rng.standard_normal((8, 4, 5)), units="degC")
    (raw / "d_records.nc").write_bytes(netcdf3_record_bomb())  # 2^31-1 records declared in 264 bytes
    (raw / "e_cut.grib2").write_bytes(grib2_message() + grib2_message()[:30])
    (raw / "f_notes.txt").write_text("not a field\n")
    _field(outside / "secret.nc", "2000-01-07", 280 + rng.standard_normal((8, 4, 5)))
    (raw / "g_link.nc").symlink_to(outside / "secret.nc")
    probes = [
        Probe.written("a_good.nc"),
        Probe.written("b_good.nc"),
        Probe.quarantined("c_kelvin_as_degc.nc", "units", says="labelled 'degC'"),
        Probe.quarantined("d_records.nc", "implausible_header", says="the file holds 264 B"),
        Probe.quarantined("e_cut.grib2", "truncated", says="GRIB message 2"),
        Probe.quarantined("f_notes.txt", "unsupported_format", says="'.txt'"),
        Probe.quarantined("g_link.nc", "symlink_escape", says="outside the input folder"),
    ]
    out = tmp_path / "dataset"
    run, problems = check_curate_command(["climate", "curate", str(raw), *DESCRIBE], out, probes)
    assert problems == []
    assert run.wall_s < 30  # the 2^31-1 record file hung curation for over 10 minutes before its header was checked


def test_real_era5_grib_cut_mid_message_is_refused(tmp_path, era5_grib):
    import pytest

    from hfm.climate.readers import open_fields
    from hfm.shared.errors import InvalidInput
    from hfm.shared.safety.headers import check_grib_messages

    data = era5_grib.read_bytes()
    messages = check_grib_messages(era5_grib)  # the real file: every message complete
    assert messages > 1
    cut = tmp_path / "era5_cut.grib"
    cut.write_bytes(data[: len(data) // 2 + 17])
    with pytest.raises(InvalidInput, match=r"GRIB message \d+ at byte \d+ declares \d+ bytes, the file ends") as error:
        open_fields(cut)
    assert error.value.code == "truncated"
