"""The Vivado project that turns BUILD/rtl/ (the files Verilator simulates) into a bitstream.

`write_vivado_project` writes BUILD/vivado/:

    bnnforge_system_wrapper.v   plain Verilog-2001 around `bnnforge_system` (the DMAs and the
                                accelerator, SystemVerilog), same ports, with the X_INTERFACE
                                attributes IP integrator needs (Vivado's module references do
                                not take a SystemVerilog top)
    build_bitfile.tcl           `vivado -mode batch -source build_bitfile.tcl`, written for
                                Vivado 2022.2 (VIVADO_VERSION): project for the board's part,
                                every source and memory file of design.json by absolute path,
                                a block design of Vivado's own IP (the PS, proc_sys_reset, two
                                SmartConnects) with the wrapper as the module reference cell
                                `bnnforge_0`, addresses, synthesis, implementation, bitstream,
                                reports; the .bit and .hwh into BUILD/deploy/bitfile/
    project/                    the Vivado project (made by the script)
    vivado.log                  Vivado's log (`run_vivado`)

Reports (BUILD/report/): vivado_summary.json (written by the script: WNS/TNS/WHS/THS, the
worst setup and hold paths' start and end points, the clock), vivado_utilization*.txt,
vivado_timing_summary.txt; `write_resource_report` adds vivado_resources.json (Vivado's
LUT/FF/BRAM/DSP beside the estimates and yosys). `read_vivado_reports` reads them back and
raises CheckFailed (exit 1) when the worst negative slack is below 0, naming the path.

The PS is configured without board files for PYNQ-Z2 (explicit processing_system7
properties, PS7_PYNQ_Z2) and with the ZCU104 board preset, whose board files ship with
Vivado (BOARD_FILES; `bnnforge doctor` checks them). The Vivado commands and options the
script uses are listed in docs/vivado_tcl.md (tests/test_vivado_tcl.py holds the script to it).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import subprocess
from pathlib import Path
from typing import Callable

from bnnforge import toolenv
from bnnforge.errors import CheckFailed, NeedsVivado, UserError
from bnnforge.finn_flow.flow.layout import BuildLayout
from bnnforge.finn_flow.rtl.system import CONTROL_ADDR_BITS, ID_BITS, SYSTEM_TOP, system_ports
from bnnforge.finn_flow.rtl.system import SYSTEM_CELL as CELL  # the module reference cell (its name in the .hwh)

VIVADO_VERSION = "2022.2"  # the version the script is written for (it warns on another one)
WRAPPER_TOP = f"{SYSTEM_TOP}_wrapper"
BD_NAME = "bnnforge_bd"
PROJECT_NAME = "bnnforge"
CONTROL_RANGE = "8K"  # s_axi_control (CONTROL_ADDR_BITS): input DMA registers at 0x0000, output DMA at 0x1000
MEMORY_EXTENSIONS = (".hex", ".dat", ".mem")

# BUILD/vivado/ and BUILD/report/ file names
VIVADO_DIR = "vivado"
SCRIPT = "build_bitfile.tcl"
WRAPPER_FILE = f"{WRAPPER_TOP}.v"
PROJECT_DIR = "project"
LOG = "vivado.log"
REPORTS = {
    "summary": "vivado_summary.json",
    "utilization": "vivado_utilization.txt",  # the whole design (PS side infrastructure included)
    "utilization_hier": "vivado_utilization_hier.txt",
    "utilization_system": "vivado_utilization_bnnforge.txt",  # the bnnforge_0 cell: DMAs + accelerator
    "utilization_accelerator": "vivado_utilization_accelerator.txt",  # the accelerator instance alone
    "timing": "vivado_timing_summary.txt",
    "resources": "vivado_resources.json",
}


@dataclasses.dataclass(frozen=True)
class VivadoPaths:
    """Where the Vivado project of a build and its outputs are."""

    build: Path

    def __post_init__(self):
        object.__setattr__(self, "build", Path(self.build).resolve())

    @property
    def folder(self) -> Path:
        return self.build / VIVADO_DIR

    @property
    def script(self) -> Path:
        return self.folder / SCRIPT

    @property
    def wrapper(self) -> Path:
        return self.folder / WRAPPER_FILE

    @property
    def project(self) -> Path:
        return self.folder / PROJECT_DIR

    @property
    def log(self) -> Path:
        return self.folder / LOG

    def report(self, key: str) -> Path:
        return BuildLayout(self.build).report / REPORTS[key]

    @property
    def bitfile(self) -> Path:
        return BuildLayout(self.build).deploy_bitfile

    @property
    def hwh(self) -> Path:
        return self.bitfile.with_suffix(".hwh")


# --- the PS of each board ----------------------------------------------------------------

# PYNQ-Z2 (TUL), processing_system7 without board files. Facts from the PS setup of the PYNQ image
# (Xilinx/PYNQ boards/Pynq-Z2/petalinux_bsp/hardware_project, whose FSBL boots the board; the base
# overlay has the same DDR and clocks): 50 MHz PS clock, APU 650 MHz, DDR3 x16 at 525 MHz with the
# board's trace delays, bank 0 at 3.3 V and bank 1 at 1.8 V, QSPI (MIO 1..6, feedback clock MIO 8),
# ENET0 RGMII (MIO 16..27, MDIO 52..53, PHY reset MIO 9), USB0 (MIO 28..39, reset MIO 46), SD0
# (MIO 40..45, card detect MIO 47), UART0 (MIO 14..15, 115200), the other MIO pins GPIO. DDR part
# MT41K256M16 RE-125 (the PYNQ project names MT41J256M16 RE-125: the same x16 4 Gb geometry and -125
# speed bin, hence the same timing). An overlay does not re-initialize the DDR (the FSBL did); PYNQ
# reads the FCLK setup from the .hwh.
PS7_PYNQ_Z2 = (
    ("PCW_PRESET_BANK0_VOLTAGE", "LVCMOS 3.3V"),
    ("PCW_PRESET_BANK1_VOLTAGE", "LVCMOS 1.8V"),
    ("PCW_CRYSTAL_PERIPHERAL_FREQMHZ", "50"),
    ("PCW_APU_PERIPHERAL_FREQMHZ", "650"),
    ("PCW_UIPARAM_DDR_MEMORY_TYPE", "DDR 3"),
    ("PCW_UIPARAM_DDR_PARTNO", "MT41K256M16 RE-125"),
    ("PCW_UIPARAM_DDR_BUS_WIDTH", "16 Bit"),
    ("PCW_UIPARAM_DDR_FREQ_MHZ", "525"),
    ("PCW_UIPARAM_DDR_TRAIN_WRITE_LEVEL", "1"),
    ("PCW_UIPARAM_DDR_TRAIN_READ_GATE", "1"),
    ("PCW_UIPARAM_DDR_TRAIN_DATA_EYE", "1"),
    ("PCW_UIPARAM_DDR_BOARD_DELAY0", "0.223"),
    ("PCW_UIPARAM_DDR_BOARD_DELAY1", "0.212"),
    ("PCW_UIPARAM_DDR_BOARD_DELAY2", "0.085"),
    ("PCW_UIPARAM_DDR_BOARD_DELAY3", "0.092"),
    ("PCW_UIPARAM_DDR_DQS_TO_CLK_DELAY_0", "0.040"),
    ("PCW_UIPARAM_DDR_DQS_TO_CLK_DELAY_1", "0.058"),
    ("PCW_UIPARAM_DDR_DQS_TO_CLK_DELAY_2", "-0.009"),
    ("PCW_UIPARAM_DDR_DQS_TO_CLK_DELAY_3", "-0.033"),
    ("PCW_QSPI_PERIPHERAL_ENABLE", "1"),
    ("PCW_QSPI_GRP_SINGLE_SS_ENABLE", "1"),
    ("PCW_QSPI_GRP_FBCLK_ENABLE", "1"),
    ("PCW_SINGLE_QSPI_DATA_MODE", "x4"),
    ("PCW_QSPI_PERIPHERAL_FREQMHZ", "200"),
    ("PCW_ENET0_PERIPHERAL_ENABLE", "1"),
    ("PCW_ENET0_ENET0_IO", "MIO 16 .. 27"),
    ("PCW_ENET0_GRP_MDIO_ENABLE", "1"),
    ("PCW_ENET0_GRP_MDIO_IO", "MIO 52 .. 53"),
    ("PCW_ENET0_PERIPHERAL_FREQMHZ", "1000 Mbps"),
    ("PCW_ENET_RESET_ENABLE", "1"),
    ("PCW_ENET_RESET_SELECT", "Share reset pin"),
    ("PCW_ENET0_RESET_ENABLE", "1"),
    ("PCW_ENET0_RESET_IO", "MIO 9"),
    ("PCW_USB0_PERIPHERAL_ENABLE", "1"),
    ("PCW_USB0_USB0_IO", "MIO 28 .. 39"),
    ("PCW_USB_RESET_ENABLE", "1"),
    ("PCW_USB_RESET_SELECT", "Share reset pin"),
    ("PCW_USB0_RESET_ENABLE", "1"),
    ("PCW_USB0_RESET_IO", "MIO 46"),
    ("PCW_SD0_PERIPHERAL_ENABLE", "1"),
    ("PCW_SD0_SD0_IO", "MIO 40 .. 45"),
    ("PCW_SD0_GRP_CD_ENABLE", "1"),
    ("PCW_SD0_GRP_CD_IO", "MIO 47"),
    ("PCW_SDIO_PERIPHERAL_FREQMHZ", "50"),
    ("PCW_UART0_PERIPHERAL_ENABLE", "1"),
    ("PCW_UART0_UART0_IO", "MIO 14 .. 15"),
    ("PCW_UART0_BAUD_RATE", "115200"),
    ("PCW_UART_PERIPHERAL_FREQMHZ", "100"),
    ("PCW_GPIO_MIO_GPIO_ENABLE", "1"),
    ("PCW_GPIO_MIO_GPIO_IO", "MIO"),
    ("PCW_USE_M_AXI_GP0", "1"),
    ("PCW_USE_S_AXI_HP0", "1"),
    ("PCW_USE_FABRIC_INTERRUPT", "0"),
    ("PCW_EN_CLK0_PORT", "1"),
    ("PCW_EN_RST0_PORT", "1"),
    ("PCW_FPGA_FCLK0_ENABLE", "1"),
    ("PCW_FCLK0_PERIPHERAL_CLKSRC", "IO PLL"),
)

# ZCU104: the board preset (board files that ship with Vivado), then the PL side: M_AXI_HPM0_FPD
# (GP0) for control, S_AXI_HP0_FPD (GP2) for memory, the other PL masters off, pl_clk0 and one
# fabric reset.
PSU_ZCU104 = (
    ("PSU__USE__M_AXI_GP0", "1"),
    ("PSU__USE__M_AXI_GP1", "0"),
    ("PSU__USE__M_AXI_GP2", "0"),
    ("PSU__USE__S_AXI_GP2", "1"),
    ("PSU__FPGA_PL0_ENABLE", "1"),
    ("PSU__NUM_FABRIC_RESETS", "1"),
    ("PSU__OVERRIDE__BASIC_CLOCK", "0"),
)


@dataclasses.dataclass(frozen=True)
class PSConfig:
    """How the block design connects bnnforge_0 to a board's processing system."""

    ip: str  # Xilinx IP name of the PS
    board_part: str | None  # get_board_parts pattern of the board files the preset needs, or None
    properties: tuple  # CONFIG.<name> values set explicitly
    freq_property: str  # the PL clock's requested frequency (MHz)
    width_property: str  # the memory port's data width (bits)
    clock: str  # PL clock pin, its reset pin
    reset: str
    control_port: str  # PS master for s_axi_control, and its clock pin
    control_aclk: str
    memory_port: str  # PS slave for m_axi_mem, and its clock pin
    memory_aclk: str
    control_base: int  # where s_axi_control is mapped in the PS's address space
    ddr_segment: str  # the PS slave segment m_axi_mem is mapped to, at 0, with its range
    ddr_range: str
    external: tuple = ()  # (port name, vlnv) of PS pins made block design ports


PS_CONFIGS = {
    "pynq-z2": PSConfig(
        ip="processing_system7", board_part=None, properties=PS7_PYNQ_Z2,
        freq_property="PCW_FPGA0_PERIPHERAL_FREQMHZ", width_property="PCW_S_AXI_HP0_DATA_WIDTH",
        clock="FCLK_CLK0", reset="FCLK_RESET0_N", control_port="M_AXI_GP0", control_aclk="M_AXI_GP0_ACLK",
        memory_port="S_AXI_HP0", memory_aclk="S_AXI_HP0_ACLK", control_base=0x4000_0000,
        ddr_segment="S_AXI_HP0/HP0_DDR_LOWOCM", ddr_range="512M",
        external=(("DDR", "xilinx.com:interface:ddrx_rtl:1.0"),
                  ("FIXED_IO", "xilinx.com:display_processing_system7:fixedio_rtl:1.0"))),
    "zcu104": PSConfig(
        ip="zynq_ultra_ps_e", board_part="xilinx.com:zcu104:part0:*", properties=PSU_ZCU104,
        freq_property="PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ", width_property="PSU__SAXIGP2__DATA_WIDTH",
        clock="pl_clk0", reset="pl_resetn0", control_port="M_AXI_HPM0_FPD", control_aclk="maxihpm0_fpd_aclk",
        memory_port="S_AXI_HP0_FPD", memory_aclk="saxihp0_fpd_aclk", control_base=0xA000_0000,
        ddr_segment="SAXIGP2/HP0_DDR_LOW", ddr_range="2G"),
}

# board files each board's PS configuration needs beyond Vivado itself: None = none needed
BOARD_FILES = {
    "pynq-z2": None,
    "zcu104": ("xilinx.com:zcu104:part0:1.1", "zcu104",
               "they ship with Vivado (Zynq UltraScale+ device support); reinstall it with that support, or "
               "copy boards/Xilinx/zcu104 of https://github.com/Xilinx/XilinxBoardStore into "
               "<Vivado>/data/xhub/boards/XilinxBoardStore/boards/Xilinx/"),
}


def ps_config(board) -> PSConfig:
    if board.name not in PS_CONFIGS:
        raise UserError(f"board {board.name}: bnnforge has no Vivado block design for it "
                        f"(boards with one: {', '.join(sorted(PS_CONFIGS))})")
    return PS_CONFIGS[board.name]


def find_board_files(vivado: str | Path, board_name: str) -> Path | None:
    """The board.xml of a board's files in the Vivado installation of ``vivado`` (its bin/
    executable), or None. Vivado 2021+ keeps its own boards in data/xhub/boards/XilinxBoardStore,
    older versions in data/boards/board_files."""
    folder = BOARD_FILES[board_name][1]
    root = Path(vivado).resolve().parent.parent
    for base in (root / "data/xhub/boards/XilinxBoardStore/boards/Xilinx", root / "data/boards/board_files"):
        found = sorted(base.glob(f"{folder}/*/board.xml"))
        if found:
            return found[-1]
    return None


# --- the wrapper ---------------------------------------------------------------------------


def _interface_attributes(name: str, freq_hz: int, data_bits: int, addr_bits: int, id_bits: int) -> list[str]:
    """X_INTERFACE_INFO / X_INTERFACE_PARAMETER of one port (the parameters on each interface's first port)."""
    if name == "ap_clk":
        return ['(* X_INTERFACE_INFO = "xilinx.com:signal:clock:1.0 ap_clk CLK" *)',
                '(* X_INTERFACE_PARAMETER = "XIL_INTERFACENAME ap_clk, ASSOCIATED_BUSIF s_axi_control:m_axi_mem, '
                f'ASSOCIATED_RESET ap_rst_n, FREQ_HZ {freq_hz}" *)']
    if name == "ap_rst_n":
        return ['(* X_INTERFACE_INFO = "xilinx.com:signal:reset:1.0 ap_rst_n RST" *)',
                '(* X_INTERFACE_PARAMETER = "XIL_INTERFACENAME ap_rst_n, POLARITY ACTIVE_LOW" *)']
    intf = "s_axi_control" if name.startswith("s_axi_control_") else "m_axi_mem"
    signal = name[len(intf) + 1:].upper()
    attrs = [f'(* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 {intf} {signal}" *)']
    if signal == "AWADDR" and intf == "s_axi_control":
        attrs.append('(* X_INTERFACE_PARAMETER = "XIL_INTERFACENAME s_axi_control, PROTOCOL AXI4LITE, '
                     f'DATA_WIDTH 32, ADDR_WIDTH {CONTROL_ADDR_BITS}, READ_WRITE_MODE READ_WRITE" *)')
    elif signal == "AWID":
        attrs.append('(* X_INTERFACE_PARAMETER = "XIL_INTERFACENAME m_axi_mem, PROTOCOL AXI4, '
                     f'DATA_WIDTH {data_bits}, ADDR_WIDTH {addr_bits}, ID_WIDTH {id_bits}, READ_WRITE_MODE READ_WRITE, '
                     'MAX_BURST_LENGTH 256, HAS_BURST 1, HAS_CACHE 1, HAS_PROT 1, HAS_LOCK 0, HAS_QOS 0, '
                     'HAS_REGION 0, HAS_WSTRB 1, HAS_BRESP 1, HAS_RRESP 1, SUPPORTS_NARROW_BURST 0" *)')
    return attrs


def wrapper_v(data_bits: int, addr_bits: int, freq_hz: int, id_bits: int = ID_BITS, top: str = SYSTEM_TOP) -> str:
    """The plain Verilog-2001 module WRAPPER_TOP: the ports of ``top``, each with its interface
    attributes, connected by name to one instance of ``top``."""
    lines = [f"// generated by bnnforge: plain Verilog-2001 wrapper of {top} (SystemVerilog) for Vivado IP",
             "// integrator (a module reference needs a Verilog or VHDL top). Interfaces: s_axi_control",
             f"// (AXI4-Lite slave, {CONTROL_ADDR_BITS}-bit address: input DMA registers at 0x0000, output DMA at",
             f"// 0x1000), m_axi_mem (AXI4 master, {data_bits}-bit data, {addr_bits}-bit address), clock ap_clk",
             f"// ({freq_hz} Hz), reset ap_rst_n (active low).",
             f"module {WRAPPER_TOP} ("]
    ports = system_ports(data_bits, addr_bits, id_bits)
    for i, (direction, name, width) in enumerate(ports):
        rng = f"[{width - 1}:0] " if width > 1 else ""
        sep = "," if i < len(ports) - 1 else ""
        for attr in _interface_attributes(name, freq_hz, data_bits, addr_bits, id_bits):
            lines.append(f"  {attr}")
        lines.append(f"  {direction} wire {rng}{name}{sep}")
    lines.append(");")
    conns = [f"    .{name}({name})" for _, name, _ in ports]
    lines += [f"  {top} {top}_i (", ",\n".join(conns), "  );", "endmodule", ""]
    return "\n".join(lines)


# --- memory files ------------------------------------------------------------------------


def _strip_comments(text: str) -> str:
    return re.sub(r"//[^\n]*|/\*.*?\*/", "", text, flags=re.S)


def readmem_files(folder: Path, sources: list[str | Path]) -> set[str]:
    """The memory files the sources read with $readmemh/$readmemb, by file name, derived from
    the sources: every string literal naming a .hex/.dat/.mem file (a core's file parameter as
    its generated top sets it), and for a $readmemh($sformatf("<format>", <prefix>, ...)) (FINN's
    thresholding) every file of ``folder`` the format produces with a string literal of the
    sources as the prefix."""
    folder = Path(folder)
    texts = [_strip_comments((folder / s).read_text(errors="replace")) for s in sources]
    literals = {lit for t in texts for lit in re.findall(r'"([^"\n]*)"', t)}
    names = {Path(lit).name for lit in literals if lit.endswith(MEMORY_EXTENSIONS) and "%" not in lit}
    formats = {f for t in texts for f in re.findall(r'\$readmem[hb]\s*\(\s*\$sformatf\s*\(\s*"([^"]*)"', t)}
    present = [p.name for p in folder.iterdir() if p.suffix in MEMORY_EXTENSIONS]
    for fmt in formats:
        parts = [re.escape(p) for p in re.split(r"%s", fmt)]
        pattern = "(.*)".join(parts)
        pattern = re.sub(r"%0?\d*d", r"\\d+", pattern.replace("\\%", "%"))
        prefixes = {Path(lit).name for lit in literals}
        for name in present:
            m = re.fullmatch(pattern, name)
            if m and all(g in prefixes for g in m.groups()):
                names.add(name)
    return names


def check_memory_files(folder: Path, sources: list[str], data_files: list[str]) -> None:
    """Every memory file the sources read exists and is among the design's data files."""
    read = readmem_files(folder, sources)
    missing = sorted(n for n in read if not (Path(folder) / n).exists())
    if missing:
        raise UserError(f"{folder}: the sources read memory files that are not there: {', '.join(missing)}")
    unlisted = sorted(read - {Path(d).name for d in data_files})
    if unlisted:
        raise UserError(f"{folder}/design.json: the sources read {', '.join(unlisted)} but its data_files do not "
                        "list them (the Vivado project would synthesize empty ROMs)")


# --- the Tcl script ------------------------------------------------------------------------


def _tcl_word(value: str) -> str:
    return f"{{{value}}}" if re.search(r"[\s$\[\]\\\"{};]", value) or value == "" else value


def _tcl_list(items: list[str]) -> str:
    return "[list \\\n" + "".join(f"    {_tcl_word(str(i))} \\\n" for i in items) + "]"


def _tcl_dict(props: list[tuple[str, str]]) -> str:
    return "[list \\\n" + "".join(f"    CONFIG.{k} {_tcl_word(v)} \\\n" for k, v in props) + "]"


_TCL_HELPERS = r'''
# the VLNV of a Xilinx IP in this Vivado (whatever its version)
proc bnnforge_ip {name} {
    set defs [lsort [get_ipdefs xilinx.com:ip:${name}:*]]
    if {[llength $defs] == 0} {
        error "bnnforge: this Vivado has no IP xilinx.com:ip:${name}"
    }
    return [get_property VLNV [lindex $defs end]]
}

# a JSON string
proc bnnforge_json {value} {
    return "\"[string map [list \\ \\\\ \" \\\" \n \\n \t \\t] $value]\""
}

# "slack startpoint endpoint" of a timing path as JSON, or null
proc bnnforge_path_json {path} {
    if {[llength $path] == 0} {
        return null
    }
    set fields [list]
    lappend fields "\"slack\": [bnnforge_json [get_property SLACK $path]]"
    lappend fields "\"startpoint\": [bnnforge_json [get_property STARTPOINT_PIN $path]]"
    lappend fields "\"endpoint\": [bnnforge_json [get_property ENDPOINT_PIN $path]]"
    lappend fields "\"clock\": [bnnforge_json [get_property ENDPOINT_CLOCK $path]]"
    return "{[join $fields {, }]}"
}
'''


def _in_build(paths: VivadoPaths, path: Path) -> str:
    """A path inside the build folder as Tcl relative to $build_dir (absolute when outside it)."""
    path = Path(path).resolve()
    build = Path(paths.build).resolve()
    if not path.is_relative_to(build):
        return _tcl_word(str(path))
    return "[file join $build_dir " + " ".join(_tcl_word(part) for part in path.relative_to(build).parts) + "]"


def _tcl_paths(paths: VivadoPaths, items: list[Path]) -> str:
    return "[list \\\n" + "".join(f"    {_in_build(paths, i)} \\\n" for i in items) + "]"


def _header_tcl(paths: VivadoPaths, board, clock_ns: float, jobs: int) -> list[str]:
    freq_mhz = 1000.0 / clock_ns
    return [
        "# generated by bnnforge: the Vivado project of BUILD/rtl/ (the RTL Verilator simulates), block design,",
        f"# synthesis, implementation and bitstream for {board.description or board.name}.",
        f"# Written for Vivado {VIVADO_VERSION}. Run: vivado -mode batch -source {paths.script}",
        "# (paths are relative to the build folder, found from this script's own place: it runs from any folder,",
        "# and the build folder may be moved). Outputs: deploy/bitfile/accelerator.{bit,hwh},",
        "# report/vivado_*.{txt,json}; the project in vivado/project/.",
        f"set bnnforge_vivado {VIVADO_VERSION}",
        "if {![string match ${bnnforge_vivado}* [version -short]]} {",
        '    puts "bnnforge: WARNING: this script is written for Vivado $bnnforge_vivado, '
        'this is Vivado [version -short]"',
        "}",
        f"set board {board.name}",
        f"set part {board.part}",
        f"set clock_ns {clock_ns:g}",
        f"set freq_mhz {freq_mhz:.6g}",
        "set build_dir [file normalize [file join [file dirname [file normalize [info script]]] ..]]",
        f"set rtl_dir {_in_build(paths, BuildLayout(paths.build).rtl)}",
        f"set vivado_dir {_in_build(paths, paths.folder)}",
        f"set report_dir {_in_build(paths, BuildLayout(paths.build).report)}",
        f"set deploy_dir {_in_build(paths, paths.bitfile.parent)}",
        f"set proj_name {PROJECT_NAME}",
        f"set proj_dir {_in_build(paths, paths.project)}",
        f"set bd_name {BD_NAME}",
        f"set jobs {jobs}",
        _TCL_HELPERS,
    ]


def _project_tcl(paths: VivadoPaths, ps: PSConfig, sources: list[Path], memories: list[Path]) -> list[str]:
    lines = ["# 1. the project: every source and memory file of design.json and the wrapper",
             "create_project -force $proj_name $proj_dir -part $part",
             "set_property target_language Verilog [current_project]"]
    if ps.board_part:
        lines += [f"set board_parts [get_board_parts -quiet -latest_file_version {{{ps.board_part}}}]",
                  "if {[llength $board_parts] == 0} {",
                  f'    error "bnnforge: this Vivado has no board files {ps.board_part} (run `bnnforge doctor`)"',
                  "}",
                  "set_property board_part [lindex $board_parts end] [current_project]"]
    lines += [f"set sources {_tcl_paths(paths, sources)}",
              "add_files -norecurse -fileset [get_filesets sources_1] $sources",
              "# the ROMs' $readmemh files: the sources name them without a folder; Vivado synthesis finds",
              "# them among the project's files",
              f"set memory_files {_tcl_paths(paths, memories)}"]
    if memories:
        lines += ["add_files -norecurse -fileset [get_filesets sources_1] $memory_files",
                  "set_property file_type {Memory Initialization Files} [get_files $memory_files]"]
    lines += ["update_compile_order -fileset sources_1"]
    return lines


def _ps_tcl(board, ps: PSConfig) -> list[str]:
    props = list(ps.properties) + [(ps.width_property, str(board.axi_port_width))]
    lines = ["# the processing system",
             f"create_bd_cell -type ip -vlnv [bnnforge_ip {ps.ip}] ps"]
    if ps.board_part:
        lines.append(f"apply_bd_automation -rule xilinx.com:bd_rule:{ps.ip} -config {{apply_board_preset \"1\"}} "
                     "[get_bd_cells ps]")
    lines += [f"set_property -dict {_tcl_dict(props)} [get_bd_cells ps]",
              f"set_property CONFIG.{ps.freq_property} $freq_mhz [get_bd_cells ps]"]
    for port, vlnv in ps.external:
        lines += [f"create_bd_intf_port -mode Master -vlnv {vlnv} {port}",
                  f"connect_bd_intf_net [get_bd_intf_ports {port}] [get_bd_intf_pins ps/{port}]"]
    return lines


def _block_design_tcl(board, ps: PSConfig) -> list[str]:
    lines = ["", "# 2. the block design: PS, reset, two SmartConnects, bnnforge_system through its Verilog wrapper",
             "create_bd_design $bd_name", *_ps_tcl(board, ps),
             f"create_bd_cell -type module -reference {WRAPPER_TOP} {CELL}",
             "create_bd_cell -type ip -vlnv [bnnforge_ip proc_sys_reset] rst",
             "create_bd_cell -type ip -vlnv [bnnforge_ip smartconnect] axi_ctrl",
             "create_bd_cell -type ip -vlnv [bnnforge_ip smartconnect] axi_mem",
             "set_property -dict [list CONFIG.NUM_SI 1 CONFIG.NUM_MI 1] [get_bd_cells axi_ctrl]",
             "set_property -dict [list CONFIG.NUM_SI 1 CONFIG.NUM_MI 1] [get_bd_cells axi_mem]",
             "# one clock: the PL clock of the PS at the build's period (what the PS can make of it: the",
             "# frequency it reaches is in the summary); bnnforge_0's clock interface takes that frequency",
             f"set clk [get_bd_pins ps/{ps.clock}]",
             f"set_property CONFIG.FREQ_HZ [get_property CONFIG.FREQ_HZ $clk] [get_bd_pins {CELL}/ap_clk]",
             f"connect_bd_net $clk [get_bd_pins ps/{ps.control_aclk}] [get_bd_pins ps/{ps.memory_aclk}] "
             "[get_bd_pins rst/slowest_sync_clk] [get_bd_pins axi_ctrl/aclk] [get_bd_pins axi_mem/aclk] "
             f"[get_bd_pins {CELL}/ap_clk]",
             f"connect_bd_net [get_bd_pins ps/{ps.reset}] [get_bd_pins rst/ext_reset_in]",
             "connect_bd_net [get_bd_pins rst/interconnect_aresetn] [get_bd_pins axi_ctrl/aresetn] "
             "[get_bd_pins axi_mem/aresetn]",
             f"connect_bd_net [get_bd_pins rst/peripheral_aresetn] [get_bd_pins {CELL}/ap_rst_n]",
             f"connect_bd_intf_net [get_bd_intf_pins ps/{ps.control_port}] [get_bd_intf_pins axi_ctrl/S00_AXI]",
             f"connect_bd_intf_net [get_bd_intf_pins axi_ctrl/M00_AXI] [get_bd_intf_pins {CELL}/s_axi_control]",
             f"connect_bd_intf_net [get_bd_intf_pins {CELL}/m_axi_mem] [get_bd_intf_pins axi_mem/S00_AXI]",
             f"connect_bd_intf_net [get_bd_intf_pins axi_mem/M00_AXI] [get_bd_intf_pins ps/{ps.memory_port}]",
             "# addresses: the control segment at a fixed base (input DMA +0x0000, output DMA +0x1000), the",
             "# DDR for the DMAs at its physical address; the rest of what the PS offers, Vivado's defaults",
             f"assign_bd_address -offset 0x{ps.control_base:08X} -range {CONTROL_RANGE} "
             f"-target_address_space [get_bd_addr_spaces ps/Data] [get_bd_addr_segs {CELL}/s_axi_control/reg0]",
             f"assign_bd_address -offset 0x00000000 -range {ps.ddr_range} "
             f"-target_address_space [get_bd_addr_spaces {CELL}/m_axi_mem] [get_bd_addr_segs ps/{ps.ddr_segment}]",
             "assign_bd_address",
             "# a first validation propagates the parameters: the PS clock's FREQ_HZ is then the frequency it",
             "# reaches (the mismatch this pass may report against bnnforge_0's requested one is fixed below)",
             "validate_bd_design -quiet",
             "set clock_hz [get_property CONFIG.FREQ_HZ $clk]",
             f"set_property CONFIG.FREQ_HZ $clock_hz [get_bd_pins {CELL}/ap_clk]",
             "validate_bd_design",
             "save_bd_design",
             "set bd_file [get_files ${bd_name}.bd]",
             "# global synthesis of the block design: one run sees every project file, the memory files too",
             "set_property synth_checkpoint_mode None $bd_file",
             "make_wrapper -files $bd_file -top -import -fileset sources_1",
             "set_property top ${bd_name}_wrapper [get_filesets sources_1]",
             "update_compile_order -fileset sources_1"]
    return lines


def _runs_tcl() -> list[str]:
    return [
        "", "# 3. synthesis, implementation, bitstream",
        "launch_runs impl_1 -to_step write_bitstream -jobs $jobs",
        "wait_on_runs [get_runs impl_1]",
        "if {[get_property PROGRESS [get_runs impl_1]] ne {100%}} {",
        '    error "bnnforge: implementation did not finish: [get_property STATUS [get_runs impl_1]] '
        '(logs in $proj_dir/${proj_name}.runs/)"',
        "}",
        "", "# 4. the bitstream and the hardware handoff, side by side as PYNQ loads them",
        "file mkdir $deploy_dir",
        "set bit [file join [get_property DIRECTORY [get_runs impl_1]] ${bd_name}_wrapper.bit]",
        "file copy -force $bit [file join $deploy_dir accelerator.bit]",
        "set hwh {}",
        "foreach candidate [list \\",
        "        [file join $proj_dir ${proj_name}.gen sources_1 bd $bd_name hw_handoff ${bd_name}.hwh] \\",
        "        [file join $proj_dir ${proj_name}.srcs sources_1 bd $bd_name hw_handoff ${bd_name}.hwh]] {",
        "    if {$hwh eq {} && [file exists $candidate]} {",
        "        set hwh $candidate",
        "    }",
        "}",
        "if {$hwh eq {}} {",
        '    error "bnnforge: no ${bd_name}.hwh under $proj_dir"',
        "}",
        "file copy -force $hwh [file join $deploy_dir accelerator.hwh]",
    ]


def _reports_tcl() -> list[str]:
    r = REPORTS
    return [
        "", "# 5. reports: utilization (whole design, bnnforge_0, the accelerator alone), timing, the summary",
        "open_run impl_1",
        "file mkdir $report_dir",
        f"report_utilization -file [file join $report_dir {r['utilization']}]",
        f"report_utilization -hierarchical -file [file join $report_dir {r['utilization_hier']}]",
        f"set system_cell [get_cells -hierarchical -quiet -filter {{NAME =~ *{CELL}}}]",
        "if {[llength $system_cell] > 0} {",
        "    report_utilization -cells [lindex $system_cell 0] "
        f"-file [file join $report_dir {r['utilization_system']}]",
        "}",
        "set acc_cell [get_cells -hierarchical -quiet "
        "-filter {ORIG_REF_NAME == accelerator || REF_NAME == accelerator}]",
        "if {[llength $acc_cell] > 0} {",
        f"    report_utilization -cells [lindex $acc_cell 0] -file [file join $report_dir "
        f"{r['utilization_accelerator']}]",
        "}",
        f"report_timing_summary -max_paths 10 -file [file join $report_dir {r['timing']}]",
        "set setup_path [get_timing_paths -delay_type max -max_paths 1 -nworst 1]",
        "set hold_path [get_timing_paths -delay_type min -max_paths 1 -nworst 1]",
        "set run [get_runs impl_1]",
        "set fields [list]",
        "lappend fields \"\\\"vivado_version\\\": [bnnforge_json [version -short]]\"",
        "lappend fields \"\\\"board\\\": [bnnforge_json $board]\"",
        "lappend fields \"\\\"part\\\": [bnnforge_json $part]\"",
        "lappend fields \"\\\"clock_ns\\\": [bnnforge_json $clock_ns]\"",
        "lappend fields \"\\\"clock_hz\\\": [bnnforge_json $clock_hz]\"",
        "foreach stat {WNS TNS WHS THS} {",
        "    lappend fields \"\\\"[string tolower $stat]\\\": [bnnforge_json [get_property STATS.$stat $run]]\"",
        "}",
        "lappend fields \"\\\"setup_path\\\": [bnnforge_path_json $setup_path]\"",
        "lappend fields \"\\\"hold_path\\\": [bnnforge_path_json $hold_path]\"",
        "lappend fields \"\\\"bitfile\\\": [bnnforge_json [file join $deploy_dir accelerator.bit]]\"",
        "lappend fields \"\\\"hwh\\\": [bnnforge_json [file join $deploy_dir accelerator.hwh]]\"",
        f"set summary [open [file join $report_dir {r['summary']}] w]",
        "puts $summary \"{[join $fields {, }]}\"",
        "close $summary",
        'puts "bnnforge: bitstream [file join $deploy_dir accelerator.bit], reports in $report_dir"',
    ]


def build_bitfile_tcl(paths: VivadoPaths, board, clock_ns: float, sources: list[Path], memories: list[Path],
                      jobs: int) -> str:
    ps = ps_config(board)
    lines = [*_header_tcl(paths, board, clock_ns, jobs), *_project_tcl(paths, ps, sources, memories),
             *_block_design_tcl(board, ps), *_runs_tcl(), *_reports_tcl()]
    return "\n".join(lines) + "\n"


# --- writing BUILD/vivado/ ----------------------------------------------------------------------


@dataclasses.dataclass
class ProjectSources:
    """What the Vivado project reads: sources (dependency order, absolute), memory files, the
    file declaring the system top, and design.json's description of the system (may be {})."""

    sources: list[Path]
    memories: list[Path]
    top: str
    top_source: Path
    system: dict


def _declares(path: Path, module: str) -> bool:
    return re.search(rf"\bmodule\s+{re.escape(module)}\b", _strip_comments(path.read_text())) is not None


def design_sources(build_dir: Path, top: str | None = None, extra_sources: tuple = ()) -> ProjectSources:
    """design.json's sources (in its order) and ``extra_sources``, its data files, all absolute.
    ``top`` (default: design.json's system top, else SYSTEM_TOP) must be declared in exactly one."""
    from bnnforge.finn_flow.rtl import stitch

    rtl = BuildLayout(build_dir).rtl.resolve()
    design = stitch.load_design(rtl)
    system = design.get("system") or {}
    top = top or system.get("top") or SYSTEM_TOP
    sources = [rtl / s for s in design["sources"]] + [Path(s).resolve() for s in extra_sources]
    memories = [rtl / d for d in design["data_files"]]
    missing = [str(p) for p in sources + memories if not p.exists()]
    if missing:
        raise UserError(f"{rtl}/design.json lists files that do not exist: {', '.join(missing)}")
    check_memory_files(rtl, [str(s) for s in sources], [m.name for m in memories])
    declared = [s for s in sources if _declares(s, top)]
    if not declared:
        raise UserError(f"no source of {rtl}/design.json declares module {top} (the DMAs, accelerator and "
                        "AXI4-Lite decode the Vivado project wraps); the rtl stage must write it")
    if len(declared) > 1:
        raise UserError(f"module {top} is declared in {len(declared)} files: {', '.join(map(str, declared))}")
    return ProjectSources(sources, memories, top, declared[0], system)


def _width(rng: str | None, params: dict[str, int]) -> int | None:
    """Bits of a packed range "[a:b]" whose bounds are integer expressions of the module's
    parameter defaults; None when they are anything else."""
    if not rng:
        return 1
    m = re.fullmatch(r"\[(.+):(.+)\]", rng.strip())
    if not m:
        return None
    bounds = []
    for expr in m.groups():
        expr = re.sub(r"[A-Za-z_]\w*", lambda w: str(params.get(w.group(0), "?")), expr).replace("/", "//")
        if not re.fullmatch(r"[\d\s+\-*/()]+", expr):
            return None
        bounds.append(eval(expr, {"__builtins__": {}}))  # digits and + - * // ( ) only
    return abs(bounds[0] - bounds[1]) + 1


def declared_ports(source: Path, top: str) -> dict[str, tuple[str, int | None]]:
    """{port: (direction, width or None)} of module ``top`` in ``source`` (ANSI header; widths of
    literal ranges or ranges of the parameters' default values)."""
    text = re.sub(r"\(\*.*?\*\)", "", _strip_comments(Path(source).read_text()), flags=re.S)
    m = re.search(rf"\bmodule\s+{re.escape(top)}\b\s*(#\s*\((?:[^()]|\([^()]*\))*\))?\s*\((.*?)\)\s*;", text, re.S)
    if not m:
        raise UserError(f"module {top} not found in {source}")
    params = {k: int(v) for k, v in re.findall(r"parameter\s+(?:int\s+|integer\s+)?(\w+)\s*=\s*(\d+)", m.group(1) or "")}
    decl = re.findall(r"\b(input|output|inout)\b\s*(?:wire\s+|logic\s+|reg\s+|var\s+)*(?:signed\s+)?"
                      r"(\[[^\]]*\])?\s*([A-Za-z_]\w*)", m.group(2))
    return {name: (d, _width(rng, params)) for d, rng, name in decl}


def check_system_ports(source: Path, data_bits: int, addr_bits: int, top: str = SYSTEM_TOP) -> None:
    """``top`` in ``source`` has exactly the ports of system_ports: names, directions, and the
    widths wherever they can be read from the header."""
    got = declared_ports(source, top)
    want = {n: (d, w) for d, n, w in system_ports(data_bits, addr_bits)}
    problems = [f"missing {n}" for n in want if n not in got] + [f"unexpected {n}" for n in got if n not in want]
    for n, (d, w) in want.items():
        if n in got and got[n][0] != d:
            problems.append(f"{n} is an {got[n][0]}, the wrapper's an {d}")
        elif n in got and got[n][1] is not None and got[n][1] != w:
            problems.append(f"{n} has {got[n][1]} bits, the wrapper {w}")
    if problems:
        raise UserError(f"{source}: module {top} does not have the ports the Vivado wrapper connects "
                        f"({data_bits}-bit data, {addr_bits}-bit addresses): " + "; ".join(problems))


def write_vivado_project(build_dir: Path, board, clock_ns: float, *, top: str | None = None,
                         extra_sources: tuple = (), addr_bits: int | None = None, jobs: int | None = None) -> Path:
    """Write BUILD/vivado/ (the wrapper and build_bitfile.tcl) for ``board`` at ``clock_ns`` from
    the stitched design BUILD/rtl/: design.json's sources plus ``extra_sources`` (a system.sv the
    rtl stage does not list), top ``top`` (default: design.json's system top, else
    bnnforge_system). ``addr_bits``: m_axi_mem's address width (default: design.json's system,
    else the board's axi_address_bits: 32 on PYNQ-Z2, 49 on ZCU104). Returns the script's path."""
    ps_config(board)  # an unknown board is refused before anything is written
    if clock_ns <= 0:
        raise UserError(f"clock period {clock_ns} ns: must be positive")
    paths = VivadoPaths(build_dir)
    project = design_sources(paths.build, top, extra_sources)
    addr_bits = addr_bits or project.system.get("addr_bits") or board.axi_address_bits
    if not 32 <= addr_bits <= 64:
        raise UserError(f"m_axi_mem address width {addr_bits}: allowed 32..64")
    bus = project.system.get("bus_bits")
    if bus is not None and bus != board.axi_port_width:
        raise UserError(f"{paths.build}/rtl/design.json: the system's memory bus is {bus} bits, {board.name}'s PS port "
                        f"{board.axi_port_width} (boards/{board.name}.toml axi_port_width): rebuild the rtl stage")
    check_system_ports(project.top_source, board.axi_port_width, addr_bits, project.top)
    paths.folder.mkdir(parents=True, exist_ok=True)
    freq_hz = round(1e9 / clock_ns)
    paths.wrapper.write_text(wrapper_v(board.axi_port_width, addr_bits, freq_hz, top=project.top))
    jobs = jobs or max(1, min(8, os.cpu_count() or 1))
    paths.script.write_text(build_bitfile_tcl(paths, board, clock_ns, [*project.sources, paths.wrapper],
                                              project.memories, jobs))
    return paths.script


# --- running Vivado and reading its reports back -------------------------------------------------


@dataclasses.dataclass
class TimingPath:
    slack: float
    startpoint: str
    endpoint: str
    clock: str


@dataclasses.dataclass
class VivadoResult:
    """What a Vivado run of build_bitfile.tcl reports."""

    vivado_version: str
    clock_ns: float  # the build's period
    clock_hz: float  # what the PS clock reaches
    wns: float
    tns: float
    whs: float
    ths: float
    setup_path: TimingPath | None
    hold_path: TimingPath | None
    utilization: dict  # whole design: LUT, LUTRAM, FF, BRAM18, DSP (URAM on UltraScale+)
    utilization_system: dict | None  # the bnnforge_0 cell (DMAs + accelerator)
    utilization_accelerator: dict | None  # the accelerator alone
    bitfile: Path
    hwh: Path

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d["bitfile"], d["hwh"] = str(self.bitfile), str(self.hwh)
        return d


# report_utilization rows: 7-series names, UltraScale+ names
_UTIL_ROWS = {
    "LUT": ("Slice LUTs", "CLB LUTs"),
    "LUTRAM": ("LUT as Memory",),
    "FF": ("Slice Registers", "CLB Registers"),
    "BRAM_TILE": ("Block RAM Tile",),
    "URAM": ("URAM",),
    "DSP": ("DSPs",),
}


def parse_utilization(text: str) -> dict:
    """LUT, LUTRAM, FF, BRAM18 (block RAM tiles x 2), URAM, DSP of a report_utilization table
    (the first row of each name: the design's or the cell's total)."""
    out = {}
    for key, names in _UTIL_ROWS.items():
        for name in names:
            m = re.search(rf"^\|\s*{re.escape(name)}\*?\s*\|\s*([0-9.]+)\s*\|", text, re.M)
            if m:
                out[key] = float(m.group(1))
                break
    if "LUT" not in out or "FF" not in out:
        raise CheckFailed("the Vivado utilization report has no LUT/register table (not a report_utilization "
                          "file of Vivado 2022.2?)")
    out["BRAM18"] = 2 * out.pop("BRAM_TILE", 0.0)
    return out


def _float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _path(d: dict | None) -> TimingPath | None:
    if not d:
        return None
    return TimingPath(_float(d.get("slack")), d.get("startpoint", "?"), d.get("endpoint", "?"), d.get("clock", "?"))


def read_vivado_reports(build_dir: Path) -> VivadoResult:
    """The Vivado run's summary and utilization reports (BUILD/report/vivado_*); CheckFailed when
    they are missing, when timing is not met (WNS or WHS below 0: the message names the path's
    start and end points) or when the bitstream or .hwh is not in BUILD/deploy/bitfile/."""
    paths = VivadoPaths(build_dir)
    summary_path = paths.report("summary")
    if not summary_path.exists():
        raise CheckFailed(f"Vivado did not finish: no {summary_path} (see {paths.log})")
    s = json.loads(summary_path.read_text())
    util = {}
    for key in ("utilization", "utilization_system", "utilization_accelerator"):
        f = paths.report(key)
        util[key] = parse_utilization(f.read_text()) if f.exists() else None
    if util["utilization"] is None:
        raise CheckFailed(f"Vivado did not write {paths.report('utilization')} (see {paths.log})")
    result = VivadoResult(
        vivado_version=s.get("vivado_version", "?"), clock_ns=_float(s.get("clock_ns")),
        clock_hz=_float(s.get("clock_hz")), wns=_float(s.get("wns")), tns=_float(s.get("tns")),
        whs=_float(s.get("whs")), ths=_float(s.get("ths")), setup_path=_path(s.get("setup_path")),
        hold_path=_path(s.get("hold_path")), utilization=util["utilization"],
        utilization_system=util["utilization_system"], utilization_accelerator=util["utilization_accelerator"],
        bitfile=paths.bitfile, hwh=paths.hwh)
    _check_timing(result, paths)
    for f in (result.bitfile, result.hwh):
        if not f.exists():
            raise CheckFailed(f"Vivado finished without writing {f} (see {paths.log})")
    return result


def _check_timing(r: VivadoResult, paths: VivadoPaths) -> None:
    report = paths.report("timing")
    for kind, worst, path in (("setup", r.wns, r.setup_path), ("hold", r.whs, r.hold_path)):
        slack = worst if not math.isnan(worst) else (path.slack if path else math.nan)
        if slack < 0:
            where = (f" on the path from {path.startpoint} to {path.endpoint} (clock {path.clock}, slack "
                     f"{path.slack:.3f} ns)" if path else "")
            hint = "; a longer clock period or more folding (PE/SIMD) on that layer" if kind == "setup" else ""
            raise CheckFailed(f"timing not met at {r.clock_ns:g} ns ({r.clock_hz / 1e6:.2f} MHz reached by the PS "
                              f"clock): worst {kind} slack {slack:.3f} ns{where}. Details: {report}{hint}")


def _readmem_failures(project: Path) -> list[str]:
    """Memory files Vivado synthesis could not open (its critical warning Synth 8-4445), from the runs' logs."""
    found = []
    for log in sorted(project.glob("*.runs/*/runme.log")):
        found += re.findall(r"could not open \$readmem data file '([^']*)'", log.read_text(errors="replace"))
    return sorted(set(found))


def run_vivado(build_dir: Path, log: Callable[[str], None]) -> VivadoResult:
    """Run BUILD/vivado/build_bitfile.tcl in Vivado (batch mode, its log in BUILD/vivado/vivado.log;
    the script's own `bnnforge:` lines go to ``log``), then read the reports back
    (read_vivado_reports: CheckFailed when timing is not met). NeedsVivado when `vivado` is not
    on PATH; CheckFailed when Vivado fails, naming its first errors and the log."""
    paths = VivadoPaths(build_dir)
    if not paths.script.exists():
        raise UserError(f"no {paths.script}: write the Vivado project first (the bitfile stage)")
    vivado = toolenv.which("vivado")
    if vivado is None:
        raise NeedsVivado(f"`vivado` is not on PATH: the bitstream needs AMD Vivado {VIVADO_VERSION} (source its "
                          f"settings64.sh), then run `vivado -mode batch -source {paths.script}` or the bitfile stage")
    cmd = [vivado, "-mode", "batch", "-nojournal", "-log", str(paths.log), "-source", str(paths.script)]
    log(f"  vivado -mode batch -source {paths.script} (log {paths.log})")
    errors = []
    with subprocess.Popen(cmd, cwd=paths.folder, env=toolenv.tool_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, errors="replace") as proc:
        for line in proc.stdout:
            if line.startswith("bnnforge:"):
                log("  " + line.rstrip())
            elif line.startswith("ERROR:") and len(errors) < 8:
                errors.append(line.rstrip())
    failed = _readmem_failures(paths.project)
    if proc.returncode != 0:
        raise CheckFailed(f"Vivado failed (exit {proc.returncode}); log {paths.log}"
                          + ("".join(f"\n  {e}" for e in errors) if errors else ""))
    if failed:
        raise CheckFailed(f"Vivado synthesis could not read the memory files {', '.join(failed)} (their ROMs would "
                          f"be empty); logs under {paths.project}")
    result = read_vivado_reports(paths.build)
    wanted_hz = 1e9 / result.clock_ns
    if abs(result.clock_hz - wanted_hz) > 1e-3 * wanted_hz:
        log(f"  note: the PS clock runs at {result.clock_hz / 1e6:.3f} MHz, not the build's {wanted_hz / 1e6:.3f} MHz "
            "(the nearest its dividers make): fps scale accordingly")
    return result


def write_resource_report(build_dir: Path, result: VivadoResult, yosys: dict | None = None) -> Path:
    """BUILD/report/vivado_resources.json: Vivado's LUT/FF/BRAM/DSP (whole design, bnnforge_0, the
    accelerator) beside the build's estimate (report/bnnforge_summary.json) and, when given,
    yosys's counts of the accelerator (`NetworkSynthesis.to_json()["total"]`); Vivado's
    post-route timing beside the rtl stage's estimate (report/timing_estimate.json)."""
    layout = BuildLayout(build_dir)
    estimate = None
    if layout.summary.exists():
        estimate = json.loads(layout.summary.read_text()).get("total")
    timing_estimate = json.loads(layout.timing_estimate.read_text()) if layout.timing_estimate.exists() else {}
    vivado_fmax = (round(1e3 / (result.clock_ns - result.wns), 1)
                   if result.clock_ns is not None and result.wns is not None and result.clock_ns > result.wns else None)
    out = {"vivado": {"design": result.utilization, "bnnforge_system": result.utilization_system,
                      "accelerator": result.utilization_accelerator, "version": result.vivado_version},
           "estimate": estimate, "yosys": yosys,
           # post-route beside the rtl stage's estimate (report/timing_estimate.json): recalibration data
           "timing": {"clock_ns": result.clock_ns, "clock_hz": result.clock_hz, "wns": result.wns, "whs": result.whs,
                      "vivado_fmax_mhz": vivado_fmax, "estimated_fmax_mhz": timing_estimate.get("fmax_mhz"),
                      "estimated_critical_path_ns": timing_estimate.get("critical_path_ns"),
                      "estimated_slowest_layer": timing_estimate.get("slowest_layer")}}
    path = VivadoPaths(build_dir).report("resources")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    return path
