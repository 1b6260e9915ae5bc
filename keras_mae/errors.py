"""Failures a user can act on from the message alone.

Each message says what is wrong (naming the value) and how to fix it. `train.py` prints such an
error as one line, `<kind>: <message>`, and exits with `exit_code`; any other exception is a bug
and keeps its traceback.
"""

import errno
import os
import sys


class MAEError(Exception):
    """A failure whose message is complete for the user: no traceback needed."""

    kind = "error"
    exit_code = 1


class InputError(MAEError, ValueError):
    """Bad input: a config value, a data path or file, the work directory. Raised before the
    run spends time where it can be; a `ValueError`, so that existing callers still catch it."""

    exit_code = 2


class TrainingStopped(MAEError):
    """The run stopped on purpose (e.g. a NaN loss), keeping everything saved before."""


class MissingDependency(MAEError, ImportError):
    """An optional package the asked-for work needs (e.g. PyTorch to read .pth files)."""

    exit_code = 3


class Interrupted(MAEError):
    """Ctrl-C: the run saved its state and can be resumed with the same command."""

    kind = "interrupted"
    exit_code = 130


def full_disk(error, workdir):
    """An `OSError` of a full disk (or quota) as a `TrainingStopped` saying how to resume;
    None for any other `OSError`. Checkpoints and backups are written atomically, so the
    newest complete ones survive the failed write."""
    if error.errno not in (errno.ENOSPC, errno.EDQUOT):
        return None
    return TrainingStopped(
        f"Out of disk space in {workdir} ({os.strerror(error.errno)}"
        f"{f' writing {error.filename}' if error.filename else ''}). The checkpoints and the "
        "backup written before are complete: free some space, or move the work directory to a "
        "disk with room and pass its new path as --workdir, then re-run the same command to "
        "resume."
    )


def exit_with(error):
    """End the process with the error's one line, `<kind>: <message>`, and its exit status:
    what command lines do with an `MAEError` instead of printing a traceback."""
    print(f"{error.kind}: {error}", file=sys.stderr, flush=True)
    sys.exit(error.exit_code)
