"""The user-error class: what the ``usae`` command reports in one line, without a traceback.

Everything a user can cause by their input (config keys, dataset folders, activation stores, weight
files, checkpoints) raises a subclass of :class:`UserError` with a message naming the file or key;
any other exception is a bug and the command shows its traceback.
"""

import sys


class UserError(ValueError):
    """Bad user input; the message is one line naming the offending file or config key."""


class ConfigError(UserError):
    """A config value is missing, mistyped or unknown; the message names the file and the key."""


class DatasetError(UserError):
    """A dataset path or layout is wrong; the message names the config key."""


class StoreError(UserError):
    """A store is missing, incomplete, corrupt or does not match its peers."""


class ImageError(UserError):
    """An image file that cannot be decoded: not an image, cut short, or a decompression bomb."""

    def __init__(self, path, reason):
        super().__init__(f"{path}: not a readable image ({reason})")
        self.reason = reason


class CheckpointError(UserError):
    """A training checkpoint is damaged, incomplete, or not one of this run's (wrong tensors, counters, log)."""


def first_line(exc):
    """The first line of an exception's message (its class name when the message is empty), for a one-line error."""
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def one_line_on_user_error(step, *args, **kwargs):
    """``step(*args, **kwargs)``; a :class:`usae.errors.UserError` ends the process as it ends the ``usae``
    command: the line ``usae: error: <message>`` on stderr (and on the console too when stderr goes to a job's
    log), no traceback, exit status 2. Rule scripts and the Snakefile's parse (``workflow/rules/common.smk``)
    call this."""
    try:
        return step(*args, **kwargs)
    except UserError as error:
        message = f"usae: error: {error}"
        print(message, file=sys.stderr, flush=True)
        if sys.stderr is not sys.__stderr__:  # a job's log (usae.runtime.configure): the console too
            print(message, file=sys.__stderr__, flush=True)
        raise SystemExit(2) from None
