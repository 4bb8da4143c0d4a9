"""The screening report: figures (:mod:`.figures`) and the self-contained HTML file (:mod:`.html`).

>>> from ionraman.report import build_report   # used by the workflow's ``report`` stage
"""

from ionraman.report.figures import (
    arrhenius_figure,
    metric_vs_d_figure,
    msd_figure,
    save_png,
    spectra_figure,
)
from ionraman.report.html import build_report

__all__ = [
    "arrhenius_figure",
    "build_report",
    "metric_vs_d_figure",
    "msd_figure",
    "save_png",
    "spectra_figure",
]
