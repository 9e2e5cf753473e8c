"""The error classes of bnnforge and the exit codes the command-line program gives them.

    exit 0   the command did what was asked
    exit 1   CheckFailed: a check ran and failed (a mismatch, a deadlock, a failed timing
             check); the message names the image, layer or streams
    exit 2   UserError: bad input or usage; one message naming the file, node, option or
             attribute, and the allowed values
    exit 3   NeedsVivado: the step needs Vivado (or Vitis HLS) and it is not installed
    exit 130 interrupted: Ctrl-C, or ToolKilled (a tool bnnforge ran was killed by a signal);
             the step is not recorded as done, so the same command resumes it
    exit 70  anything else: a bnnforge bug; one line saying so, the traceback in a file

Every error bnnforge raises on purpose is one of the first three classes (or a subclass);
any other exception reaching the command line is an internal error. UserError is also a
ValueError so that library callers catching ValueError for bad arguments keep working.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USER_ERROR = 2
EXIT_NEEDS_VIVADO = 3
EXIT_INTERNAL = 70  # EX_SOFTWARE of sysexits.h


class BnnforgeError(Exception):
    """Base of the errors bnnforge raises on purpose."""

    exit_code = EXIT_INTERNAL


class UserError(BnnforgeError, ValueError):
    """Bad input or usage (a file, option, node or attribute the user gave)."""

    exit_code = EXIT_USER_ERROR


class CheckFailed(BnnforgeError):
    """A check ran and failed: outputs differ, a design deadlocked, timing is not met."""

    exit_code = EXIT_CHECK_FAILED


EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C


class ToolKilled(BnnforgeError):
    """A tool bnnforge ran was killed by a signal (the user, or the kernel out of memory): its
    step did not finish, which says nothing about the design."""

    exit_code = EXIT_INTERRUPTED


class NeedsVivado(BnnforgeError):
    """The requested step needs Vivado / Vitis HLS, which is not installed here."""

    exit_code = EXIT_NEEDS_VIVADO
