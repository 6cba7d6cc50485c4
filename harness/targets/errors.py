"""Why a target could not be used."""


class TargetUnavailable(Exception):
    """The platform under test did not come up (or is not reachable)."""
