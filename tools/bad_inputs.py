#!/usr/bin/env python3
"""Write the bad-input corpus (issue 20) into a folder, from code: nothing binary is committed.

    python tools/bad_inputs.py OUT            # OUT/arrays: the `hfm curate arrays` probes; OUT/formats: byte-level
                                              # probes of the domain formats (PNG, NIfTI, netCDF3, GRIB)
    hfm curate arrays OUT/arrays DATASET -c contract.yaml ...   # then look at DATASET/quarantine/report.csv

Each domain's tests (`projects/<domain>/tests/test_bad_inputs.py`) build the same probes through
`hfm.shared.testing.bad_inputs` and run that domain's curate over them with the invariants checked.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hfm.shared.testing.bad_inputs import (
    grib2_message,
    netcdf3_record_bomb,
    nifti1_header,
    nifti_gzip_bomb,
    png_bytes,
    write_generic_probes,
)


def write_format_probes(folder: Path) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bomb_9400x9400.png").write_bytes(png_bytes(9400, 9400))
    (folder / "records_2p31.nc").write_bytes(netcdf3_record_bomb())
    (folder / "truncated.grib2").write_bytes(grib2_message() + grib2_message()[:30])
    (folder / "huge_30000cubed.nii").write_bytes(nifti1_header((30000, 30000, 30000)) + bytes(1024))
    (folder / "micron.nii").write_bytes(nifti1_header((8, 8, 8), xyzt_units=3) + bytes(8**3 * 2))
    nifti_gzip_bomb(folder / "bomb_700cubed.nii.gz")
    return {
        "bomb_9400x9400.png": "PNG decompression bomb (88 Mpx from 86 KB)",
        "records_2p31.nc": "netCDF3 declaring 2^31-1 records",
        "truncated.grib2": "GRIB2 cut mid-message",
        "huge_30000cubed.nii": "NIfTI header declaring 30000^3 voxels",
        "micron.nii": "NIfTI with xyzt_units micron",
        "bomb_700cubed.nii.gz": "gzipped 700^3 NIfTI (333 KB on disk)",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="folder to write (created)")
    args = parser.parse_args()
    probes = write_generic_probes(args.out / "arrays", args.out / "outside")
    formats = write_format_probes(args.out / "formats")
    listing = {
        "arrays": [
            {"key": p.key.encode("utf-8", "surrogateescape").hex(), "expect": sorted(p.expect), "says": p.says}
            for p in probes
        ],
        "formats": formats,
    }
    (args.out / "probes.json").write_text(json.dumps(listing, indent=2, sort_keys=True) + "\n")  # keys as hex bytes
    print(f"{args.out}: {len(probes)} arrays probes, {len(formats)} format probes (probes.json lists them)")


if __name__ == "__main__":
    main()
