"""Boards: one TOML file each in this folder (package data), and their loader. Adding a
board = adding a file."""

from __future__ import annotations

import dataclasses
import tomllib

from bnnforge import toolenv
from bnnforge.errors import UserError

REQUIRED = ("name", "finn_board", "part", "clock_ns", "axi_port_width", "axi_address_bits", "shell_flow", "resources")
RESOURCES = ("LUT", "FF", "BRAM36", "URAM", "DSP")


@dataclasses.dataclass(frozen=True)
class Board:
    name: str
    description: str
    finn_board: str
    part: str
    clock_ns: float
    axi_port_width: int  # data bits of the PS port the DMAs use
    axi_address_bits: int  # its address bits
    shell_flow: str
    yosys_family: str
    resources: dict[str, int]

    @property
    def bram18(self) -> int:
        """Budget in FINN's BRAM unit (BRAM_18K)."""
        return 2 * self.resources["BRAM36"]


def board_names() -> list[str]:
    return sorted(p.stem for p in toolenv.package_path("boards").glob("*.toml"))


def load_board(name: str) -> Board:
    path = toolenv.package_path("boards") / f"{name.lower()}.toml"
    if not path.exists():
        raise UserError(f"unknown board {name!r}; available: {', '.join(board_names())} (boards/*.toml)")
    data = tomllib.loads(path.read_text())
    missing = [k for k in REQUIRED if k not in data] + [
        f"resources.{r}" for r in RESOURCES if r not in data.get("resources", {})
    ]
    if missing:
        raise UserError(f"{path}: missing {', '.join(missing)}")
    return Board(
        name=data["name"],
        description=data.get("description", ""),
        finn_board=data["finn_board"],
        part=data["part"],
        clock_ns=float(data["clock_ns"]),
        axi_port_width=int(data["axi_port_width"]),
        axi_address_bits=int(data["axi_address_bits"]),
        shell_flow=data["shell_flow"],
        yosys_family=data.get("yosys_family", "xc7"),
        resources={r: int(data["resources"][r]) for r in RESOURCES},
    )
