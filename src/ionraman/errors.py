"""Errors that carry a one-line message for the user.

Raise :class:`InputError` (or a subclass) for anything the user can fix: a bad file, field or value.
The CLI prints ``error: <message>`` and exits with code 2, without a traceback; anything else is a
bug and keeps its traceback.
"""

from __future__ import annotations


class IonramanError(Exception):
    """Base class of the errors ionraman raises on purpose."""


class InputError(IonramanError, ValueError):
    """Bad user input: the message names the file, field or value and what is expected."""


class SimulationError(IonramanError, RuntimeError):
    """A simulation stopped for a physical reason (a guard fired); data written so far is kept."""
