"""Write the CCl4 measured-format test files from published band positions and relative areas.

Source of the numbers (see README.md in this folder): A. Raj, C. Kato, H. A. Witek and
H. Hamaguchi, "Toward standardization of Raman spectroscopy: Accurate wavenumber and intensity
calibration using rotational Raman spectra of H2, HD, D2, and vibration-rotation spectrum of O2",
J. Raman Spectrosc. 51, 2066-2082 (2020), doi:10.1002/jrs.5955; reference band positions and
relative band areas of liquid CCl4 at ~298 K as distributed by the authors in
github.com/ankit7540/IntensityCalbr, file
PythonModule/determine_C2/vibrationalRaman_liquids/Using_relative_intensities/ref_data/
BA_ref_CCl4.txt (Stokes bands below; areas relative to the 460.2 cm^-1 band).

Only positions and relative areas are published numbers. The line shape (Lorentzian, FWHM
6 cm^-1 for every band), the grid (50-1000 cm^-1 every 0.5 cm^-1) and the intensity scale are
choices made here; no noise, baseline or spikes are added. Run from the repository root:

    .venv/bin/python tests/data/measured/make_ccl4.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

# (Raman shift cm^-1, relative band area, its uncertainty), Stokes side, from BA_ref_CCl4.txt
CCL4_BANDS = (
    (218.1, 0.3357, 0.004),
    (313.9, 0.37907, 0.005),
    (460.2, 1.0, 1.0e-6),
    (759.4, 0.11554, 0.0024),
    (789.6, 0.1374, 0.00275),
)
FWHM_CM1 = 6.0  # assumption (not from the source)
GRID_CM1 = np.round(np.arange(50.0, 1000.0 + 1e-9, 0.5), 1)
SCALE = 1000.0  # peak height of the 460.2 band ~ 106 (arbitrary units)

HEADER = [
    "Liquid CCl4, Stokes Raman spectrum constructed from published band positions and relative",
    "band areas: Raj, Kato, Witek, Hamaguchi, J. Raman Spectrosc. 51, 2066 (2020),",
    "doi:10.1002/jrs.5955 (data file BA_ref_CCl4.txt of github.com/ankit7540/IntensityCalbr).",
    "Line shapes (Lorentzian, FWHM 6 cm-1), grid and scale are assumptions (not recorded data).",
]


def ccl4_intensity(nu: np.ndarray) -> np.ndarray:
    """Sum of unit-area Lorentzians scaled by the published relative areas (arbitrary units)."""
    hw = FWHM_CM1 / 2
    y = np.zeros_like(nu, dtype=float)
    for pos, area, _err in CCL4_BANDS:
        y += area * hw / np.pi / ((nu - pos) ** 2 + hw**2)
    return SCALE * y


def write_csv(path: Path) -> None:
    y = ccl4_intensity(GRID_CM1)
    lines = [f"# {h}" for h in HEADER]
    lines += ["# laser wavelength: 532 nm", "# temperature: 298 K"]
    lines.append("raman_shift_cm-1,intensity_arb")
    lines += [f"{x:.1f},{v:.5f}" for x, v in zip(GRID_CM1, y, strict=True)]
    path.write_text("\n".join(lines) + "\n")


def write_jcamp(path: Path) -> None:
    y = ccl4_intensity(GRID_CM1)
    yfactor = 1e-4
    ints = np.round(y / yfactor).astype(int)
    head = [
        "##TITLE=CCl4 liquid, Raj et al. 2020 band positions and relative areas",
        "##JCAMP-DX=4.24",
        "##DATA TYPE=RAMAN SPECTRUM",
        "##ORIGIN=constructed from J. Raman Spectrosc. 51, 2066 (2020), doi:10.1002/jrs.5955",
        "##OWNER=public domain (test data of ionraman)",
        "##$LASER WAVELENGTH=532 NM",
        "##$TEMPERATURE=298 K",
        "##XUNITS=1/CM",
        "##YUNITS=ARBITRARY UNITS",
        "##XFACTOR=1.0",
        f"##YFACTOR={yfactor}",
        f"##FIRSTX={GRID_CM1[0]:.1f}",
        f"##LASTX={GRID_CM1[-1]:.1f}",
        f"##DELTAX={GRID_CM1[1] - GRID_CM1[0]:.1f}",
        f"##NPOINTS={GRID_CM1.size}",
        f"##FIRSTY={ints[0] * yfactor:.4f}",
        "##XYDATA=(X++(Y..Y))",
    ]
    body = []
    per_line = 8
    for start in range(0, GRID_CM1.size, per_line):
        chunk = ints[start : start + per_line]
        body.append(f"{GRID_CM1[start]:.1f} " + " ".join(str(v) for v in chunk))
    path.write_text("\n".join([*head, *body, "##END="]) + "\n")


if __name__ == "__main__":
    write_csv(HERE / "ccl4_raj2020.csv")
    write_jcamp(HERE / "ccl4_raj2020.jdx")
    print("wrote", HERE / "ccl4_raj2020.csv", HERE / "ccl4_raj2020.jdx")
