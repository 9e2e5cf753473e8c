"""The `bnnforge` command-line program: one subcommand per user task."""

from __future__ import annotations

import argparse
import sys

from bnnforge import __version__


class UserError(Exception):
    """A problem with the user's input: printed as one clear message, exit code 2."""


def cmd_doctor(args: argparse.Namespace) -> int:
    from bnnforge import doctor

    return doctor.main(as_json=args.json)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bnnforge",
        description="FPGA accelerator generator for binary neural networks: "
        "train (sign / LAB / DyBNN binarizers) -> export QONNX -> FINN build -> verify bit-exactness.",
    )
    parser.add_argument("--version", action="version", version=f"bnnforge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "doctor",
        help="check the toolchain (builds and runs tiny Verilator and ap_int programs)",
        description="Check every tool bnnforge uses; print version, status and the exact fix. "
        "Exit 0 when all required tools work, 1 otherwise.",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_doctor)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except UserError as e:
        print(f"bnnforge {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
