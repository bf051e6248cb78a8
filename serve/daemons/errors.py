"""Errors of the local daemons.

DaemonError
├── DaemonNotInstalled   what the daemon runs from is missing (run deploy/setup.sh)
├── PortBusy             another process holds the port
└── DaemonStartFailed    it exited or did not become ready in time (log tail attached)
"""


class DaemonError(Exception):
    """Base class of the daemon errors."""


class DaemonNotInstalled(DaemonError):
    """Jars, model or interpreter the daemon needs are missing."""


class PortBusy(DaemonError):
    """The port the daemon needs is held by another process."""


class DaemonStartFailed(DaemonError):
    """The daemon exited during start-up or did not become ready in time."""
