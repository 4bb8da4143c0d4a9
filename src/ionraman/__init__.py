"""ionraman: screen solid electrolytes for liquid-like ion conduction via low-frequency Raman."""

from __future__ import annotations

__version__ = "0.1.0"
