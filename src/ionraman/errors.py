"""Errors that carry a one-line message for the user.

Raise :class:`InputError` (or a subclass) for anything the user can fix: a bad file, field or value.
The CLI prints ``error: <message>`` and exits with code 2, without a traceback; anything else is a
bug and keeps its traceback.
"""

from __future__ import annotations

import signal


class IonramanError(Exception):
    """Base class of the errors ionraman raises on purpose."""


class InputError(IonramanError, ValueError):
    """Bad user input: the message names the file, field or value and what is expected."""


class SimulationError(IonramanError, RuntimeError):
    """A simulation stopped for a physical reason (a guard fired); data written so far is kept."""


class Interrupted(BaseException):
    """A run stopped by a signal (SIGINT, SIGTERM, SIGHUP); ``exit_code`` is 128 + its number.

    A ``BaseException`` like ``KeyboardInterrupt``, so ``except Exception`` clean-up code does not
    swallow it (:mod:`ionraman.workflow.signals` raises it).
    """

    def __init__(self, signum: int) -> None:
        self.signum = int(signum)
        self.name = signal.Signals(signum).name
        self.exit_code = 128 + self.signum
        self.note = ""  # what was done on the way out (set by the code that cleaned up)
        super().__init__(f"stopped by {self.name}")

    def message(self) -> str:
        """The one line the command line prints (stderr) before exiting with :attr:`exit_code`."""
        note = f"; {self.note}" if self.note else ""
        return f"interrupted: {self}{note}; run the same command again to resume"
