"""Child of `ar_pick_isolated`: one call of ObsPy's C `ar_picker` in a fresh interpreter that imports only NumPy.

Reads an npz (prepared float32 components, the float and int arguments) from stdin, prints "P S" in seconds;
argv[1] is the path of ObsPy's compiled signal library. Run by path, so the hfm package is not imported.
"""

import ctypes
import io
import sys

import numpy as np


def main() -> None:
    library = ctypes.CDLL(sys.argv[1])
    trace = np.ctypeslib.ndpointer(dtype=np.float32, ndim=1, flags="C_CONTIGUOUS")
    f = ctypes.c_float
    library.ar_picker.argtypes = [trace, trace, trace, ctypes.c_int, f, f, f, f, f, f, f, ctypes.c_int,
                                  ctypes.c_int, ctypes.POINTER(f), ctypes.POINTER(f), ctypes.c_double,
                                  ctypes.c_double, ctypes.c_int]  # fmt: skip
    library.ar_picker.restype = ctypes.c_int
    given = np.load(io.BytesIO(sys.stdin.buffer.read()))
    rate, f1, f2, lta_p, sta_p, lta_s, sta_s, l_p, l_s = (float(v) for v in given["floats"])
    m_p, m_s = (int(v) for v in given["ints"])
    z, n, e = given["z"], given["n"], given["e"]
    p, s = f(), f()
    code = library.ar_picker(z, n, e, len(z), rate, f1, f2, lta_p, sta_p, lta_s, sta_s, m_p, m_s,
                             ctypes.byref(p), ctypes.byref(s), l_p, l_s, 1)  # fmt: skip
    if code != 0:
        sys.exit(f"ar_picker returned error code {code}")
    print(repr(p.value), repr(s.value))


if __name__ == "__main__":
    main()
