import numpy as np
import pandas as pd
import pytest

from hfm.shared.contracts import ArraySpec, ColumnSpec, Sample, SampleContract, TableContract, validate

WAVEFORM = SampleContract(
    name="waveform",
    arrays=[
        ArraySpec(name="x", dims=["channel", "time"], dtype="float32", shape=[3, "T"], units="counts"),
        ArraySpec(name="mask", dims=["time"], dtype="bool", shape=["T"], optional=True),
        ArraySpec(name="p", dims=["time"], dtype="float32", shape=["T"], min=0.0, max=1.0, optional=True),
    ],
)


def good() -> dict:
    return {"x": np.zeros((3, 100), np.float32), "p": np.full(100, 0.5, np.float32)}


def codes(violations):
    return sorted(v.code for v in violations)


def test_valid_sample_has_no_violation():
    assert validate(good(), WAVEFORM) == []


def test_nan_is_reported_with_count():
    sample = good()
    sample["x"][1, :7] = np.nan
    (violation,) = validate(sample, WAVEFORM)
    assert (violation.field, violation.code) == ("x", "nan")
    assert "7 NaN values of 300" in violation.reason


def test_nan_allowed_up_to_a_fraction():
    contract = SampleContract(
        name="c", arrays=[ArraySpec(name="x", dims=["t"], shape=[None], nan_policy="allow", max_nan_fraction=0.1)]
    )
    x = np.zeros(100, np.float32)
    x[:10] = np.nan
    assert validate({"x": x}, contract) == []
    x[:11] = np.nan
    assert "0.11" in validate({"x": x}, contract)[0].reason


def test_wrong_dtype_and_shape_each_named():
    sample = {"x": np.zeros((2, 100), np.float64)}
    found = validate(sample, WAVEFORM)
    assert codes(found) == ["dtype", "shape"]
    assert any("dtype float64 but contract requires float32" in v.reason for v in found)
    assert any("axis 0 (channel) has size 2, expected 3" in v.reason for v in found)


def test_free_axis_symbol_must_agree_between_arrays():
    sample = good()
    sample["p"] = np.zeros(90, np.float32)
    (violation,) = validate(sample, WAVEFORM)
    assert violation.field == "p" and "T=100" in violation.reason


def test_out_of_range_and_infinite_values():
    sample = good()
    sample["p"][3] = 1.5
    sample["x"][0, 0] = np.inf
    found = validate(sample, WAVEFORM)
    assert codes(found) == ["inf", "range"]
    assert any("maximum 1.5 above allowed 1" in v.reason for v in found)


def test_missing_and_unexpected_arrays():
    found = validate({"y": np.zeros(3)}, WAVEFORM)
    assert [(v.field, v.code) for v in found] == [("x", "missing"), ("y", "unexpected")]


def test_units_disagreeing_with_contract():
    sample = Sample(arrays=good(), units={"x": "m/s"})
    (violation,) = validate(sample, WAVEFORM)
    assert violation.code == "units" and "'m/s'" in violation.reason


def test_contract_rejects_unknown_dtype_and_inconsistent_dims():
    with pytest.raises(ValueError):
        ArraySpec(name="x", dims=["t"], shape=[None], dtype="float33")
    with pytest.raises(ValueError):
        ArraySpec(name="x", dims=["a", "b"], shape=[None])


TABLE = TableContract(
    name="events",
    columns=[
        ColumnSpec(name="key", dtype="str", unique=True),
        ColumnSpec(name="magnitude", dtype="float", min=-2, max=10),
        ColumnSpec(name="split", dtype="str", allowed=["train", "dev", "test"]),
        ColumnSpec(name="depth_km", dtype="float", required=False, nullable=True, min=0),
        ColumnSpec(name="time", dtype="datetime", required=False),
    ],
)


def test_table_violations_name_column_rows_and_values():
    table = pd.DataFrame(
        {
            "key": ["a", "b", "b"],
            "magnitude": [1.0, 12.5, "big"],
            "split": ["train", "val", "test"],
            "time": ["2020-01-01T00:00:00", "yesterday", "2020-01-02"],
        }
    )
    found = {(v.field, v.code): v.reason for v in validate(table, TABLE)}
    assert set(found) == {
        ("key", "duplicate"),
        ("magnitude", "dtype"),
        ("magnitude", "range"),
        ("split", "allowed"),
        ("time", "dtype"),
    }
    assert "row 1" in found[("magnitude", "range")] and "12.5" in found[("magnitude", "range")]
    assert "'val'" in found[("split", "allowed")]
    assert "rows 1, 2" in found[("key", "duplicate")]


def test_missing_required_column():
    found = validate(pd.DataFrame({"key": ["a"], "split": ["dev"]}), TABLE)
    assert [(v.field, v.code) for v in found] == [("magnitude", "missing")]
