"""Simulation of one node of a FINN graph on the code a build ships.

rtlsim: the node's generated RTL (``generate_hdl``: bnnforge's cores from sim/rtl/, or
FINN's finn-rtllib modules) built with Verilator and streamed by the cocotb testbench;
cppsim: the node's generated HLS C++ (``generate_params``/``docompute``) compiled with
g++ and the ap_types headers. Tensors are packed into stream beats exactly as FINN packs
them (finn.util.data_packing), and the steady-state cycles per frame are measured.
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
from pathlib import Path

import numpy as np
from finn.util.data_packing import npy_to_rtlsim_input, rtlsim_output_to_npy

from bnnforge.finn_flow import registry
from bnnforge.sim import csim, verilator


@dataclasses.dataclass
class NodeRun:
    outputs: list[np.ndarray]  # one array per node output, (N, *normal shape[1:])
    cycles_per_frame: float | None  # steady state, measured on output 0
    exp_cycles: int  # the op's get_exp_cycles()
    phases: list  # raw verilator.PhaseResult of every phase
    waves: Path | None = None


def stream_inputs(inst) -> list[tuple[int, str]]:
    """(node input index, port name) of the inputs that are streams (not parameters)."""
    return [(i, f"in{i}_V") for i in range(len(inst.onnx_node.input)) if inst.get_instream_width(i) != 0]


def stream_outputs(inst) -> list[tuple[int, str]]:
    return [(o, f"out{o}_V") for o in range(len(inst.onnx_node.output))]


def beats_per_frame(folded_shape) -> int:
    return int(math.prod(folded_shape[:-1]))


def to_beats(inst, ind: int, x: np.ndarray) -> list[int]:
    """N frames of input ``ind`` (N, *normal shape[1:]) as stream beats, FINN's packing."""
    folded = list(inst.get_folded_input_shape(ind))
    x = registry.to_stream_order(inst, ind, np.asarray(x, np.float32))
    beats = []
    for frame in x:
        beats += npy_to_rtlsim_input(frame.reshape(folded), inst.get_input_datatype(ind), inst.get_instream_width(ind))
    return beats


def output_beats(inst, ind: int, y: np.ndarray) -> list[int]:
    """N frames of output ``ind`` (N, *normal shape[1:]) as the beats the node sends."""
    folded = list(inst.get_folded_output_shape(ind))
    y = registry.to_stream_order(inst, ind, np.asarray(y, np.float32), output=True)
    beats = []
    for frame in y:
        beats += npy_to_rtlsim_input(frame.reshape(folded), inst.get_output_datatype(ind), inst.get_outstream_width(ind))
    return beats


def from_beats(inst, ind: int, beats: list[int], frames: int) -> np.ndarray:
    """Output beats of ``frames`` frames -> (N, *normal output shape[1:])."""
    folded = list(inst.get_folded_output_shape(ind))
    normal = tuple(inst.get_normal_output_shape(ind))
    per = beats_per_frame(folded)
    odt = inst.get_output_datatype(ind)
    out = []
    for f in range(frames):
        y = rtlsim_output_to_npy(beats[f * per:(f + 1) * per], None, odt, folded, inst.get_outstream_width(ind),
                                 odt.bitwidth())
        out.append(np.asarray(y, np.float32).reshape(normal))
    return registry.from_stream_order(inst, ind, np.concatenate(out))


def node_design(inst, work_dir: Path | None = None) -> verilator.Design:
    """The node's generated RTL as a Verilator design (its code must have been generated).
    FINN's files get the Verilator workarounds and lint waivers of finn_compat; memory
    files ($readmemh by name) are the node's <node>_*.hex/.dat files."""
    from bnnforge.finn_flow import finn_compat

    code_dir = Path(inst.get_nodeattr("code_gen_dir_ipgen") or "/nonexistent")
    if not code_dir.is_dir():
        raise ValueError(f"{inst.onnx_node.name}: no RTL generated yet (run code generation first)")
    name = inst.onnx_node.name
    files = [Path(f) for f in inst.get_rtl_file_list(abspath=True)]
    sources = tuple(f for f in files if f.suffix in (".v", ".sv"))
    data = tuple(sorted(f for f in code_dir.glob(f"{name}_*") if f.suffix in (".hex", ".dat")))
    control: tuple = ()
    if not registry.is_ours(inst.onnx_node.op_type):
        sources = tuple(finn_compat.rtl_sources_for_all_tools(list(sources)))
        vlt = Path(work_dir or code_dir) / f"{name}_waivers.vlt"
        vlt.write_text(finn_compat.lint_waivers(list(sources)))
        control = (vlt,)
    return verilator.Design(sources, inst.get_verilog_top_module_name(), (), control, data)


def simulate_rtl(inst, inputs: list[np.ndarray], stall=0.0, seed: int = 1, waves: bool = False,
                 reset_test: bool = False, work_dir: Path | None = None) -> NodeRun:
    """Stream N frames (``inputs``: one array per streamed input, in node input order)
    through the node's generated RTL; with ``reset_test``, first a phase cut off half way
    into the second frame, then the frames, then (after a reset) the frames again."""
    ins = stream_inputs(inst)
    if len(inputs) != len(ins):
        raise ValueError(f"{inst.onnx_node.name} has {len(ins)} streamed inputs, got {len(inputs)} arrays")
    frames = len(inputs[0])
    beats = {port: to_beats(inst, i, x) for (i, port), x in zip(ins, inputs)}
    expect = {port: frames * beats_per_frame(inst.get_folded_output_shape(o)) for o, port in stream_outputs(inst)}
    phase = verilator.Phase(beats, expect)
    phases = [phase]
    if reset_test:
        first = next(iter(beats.values()))
        cut = verilator.Phase(beats, expect, abort_after=max(1, len(first) // frames * 3 // 2))
        phases = [cut, phase, phase]
    results, fst = verilator.run(node_design(inst), phases, stall, seed, waves, work_dir)
    last = results[-1]
    outputs = [from_beats(inst, o, last.beats[port], frames) for o, port in stream_outputs(inst)]
    out0 = stream_outputs(inst)[0][1]
    return NodeRun(outputs, verilator.steady_cycles_per_frame(last, out0, frames), registry.exp_cycles(inst),
                   results, fst)


def execute_rtlsim(inst, context) -> None:
    """FINN exec_mode "rtlsim" on Verilator: one frame, outputs into the context."""
    node = inst.onnx_node
    inputs = [np.asarray(context[node.input[i]]).reshape(inst.get_normal_input_shape(i))
              for i, _ in stream_inputs(inst)]
    run = simulate_rtl(inst, inputs)
    for o, name in enumerate(node.output):
        context[name] = run.outputs[o].reshape(inst.get_normal_output_shape(o))


# --- cppsim ------------------------------------------------------------------------------

HARNESS = """// generated by bnnforge: C-simulation harness of {name}
// usage: {name} FRAMES IN0.txt [IN1.txt ...] OUT0.txt [OUT1.txt ...]   (one hex beat per line)
#include <cstdio>
#include <cstdlib>
#include <ap_int.h>
#include <hls_stream.h>
{globals}
{defines}
static FILE *open_or_die(const char *path, const char *mode) {{
    FILE *f = fopen(path, mode);
    if (!f) {{ fprintf(stderr, "cannot open %s\\n", path); exit(2); }}
    return f;
}}
int main(int argc, char **argv) {{
    if (argc != {argc}) {{ fprintf(stderr, "expected {argc_m1} arguments\\n"); return 2; }}
    const int frames = atoi(argv[1]);
{decls}
    char line[65536];
    for (int n = 0; n < frames; n++) {{
{reads}
{compute}
{writes}
    }}
    return 0;
}}
"""


def generate_cppsim(inst, model, code_dir: Path) -> Path:
    """Write the node's HLS C++ (FINN's code generation hooks) plus a stream harness."""
    code_dir = Path(code_dir)
    code_dir.mkdir(parents=True, exist_ok=True)
    inst.code_gen_dict.clear()
    inst.generate_params(model, str(code_dir))
    inst.global_includes()
    inst.defines("cppsim")
    inst.docompute()
    d = inst.code_gen_dict
    ins, outs = stream_inputs(inst), stream_outputs(inst)
    decls, reads, writes = [], [], []
    for k, (i, port) in enumerate(ins):
        w = inst.get_instream_width(i)
        n = beats_per_frame(inst.get_folded_input_shape(i))
        decls.append(f"    FILE *f_{port} = open_or_die(argv[{2 + k}], \"r\");\n"
                     f"    hls::stream<ap_uint<{w}> > {port}(\"{port}\");")
        reads.append(f"        for (int b = 0; b < {n}; b++) {{\n"
                     f"            if (!fgets(line, sizeof line, f_{port})) {{ fprintf(stderr, \"{port}: input ran out\\n\"); return 3; }}\n"
                     f"            {port}.write(ap_uint<{w}>(line, 16));\n        }}")
    for k, (o, port) in enumerate(outs):
        w = inst.get_outstream_width(o)
        n = beats_per_frame(inst.get_folded_output_shape(o))
        decls.append(f"    FILE *f_{port} = open_or_die(argv[{2 + len(ins) + k}], \"w\");\n"
                     f"    hls::stream<ap_uint<{w}> > {port}(\"{port}\");")
        writes.append(f"        for (int b = 0; b < {n}; b++) {{\n"
                      f"            if ({port}.empty()) {{ fprintf(stderr, \"{port} ran dry at beat %d of frame %d\\n\", b, n); return 3; }}\n"
                      f"            fprintf(f_{port}, \"%s\\n\", {port}.read().to_string(16).c_str());\n        }}\n"
                      f"        if (!{port}.empty()) {{ fprintf(stderr, \"{port}: extra beats after frame %d\\n\", n); return 3; }}")
    for _, port in ins:
        writes.append(f"        if (!{port}.empty()) {{ fprintf(stderr, \"{port}: unread beats after frame %d\\n\", n); return 3; }}")
    argc = 2 + len(ins) + len(outs)
    src = HARNESS.format(name=inst.onnx_node.name, globals="\n".join(d.get("$GLOBALS$", [])),
                         defines="\n".join(d.get("$DEFINES$", [])), argc=argc, argc_m1=argc - 1,
                         decls="\n".join(decls), reads="\n".join(reads),
                         compute="        " + "\n        ".join(d["$DOCOMPUTE$"]), writes="\n".join(writes))
    inst.code_gen_dict.clear()
    harness = code_dir / f"execute_{inst.onnx_node.name}.cpp"
    harness.write_text(src)
    inst.set_nodeattr("code_gen_dir_cppsim", str(code_dir))
    return harness


def simulate_cpp(inst, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Run N frames through the node's generated C++ (generate_cppsim must have run)."""
    code_dir = Path(inst.get_nodeattr("code_gen_dir_cppsim") or "/nonexistent")
    harness = code_dir / f"execute_{inst.onnx_node.name}.cpp"
    if not harness.exists():
        raise ValueError(f"{inst.onnx_node.name}: no C++ generated yet (generate_cppsim first)")
    exe = csim.compile_cpp(harness, include_dirs=[code_dir])
    frames = len(inputs[0])
    with tempfile.TemporaryDirectory(prefix="bnnforge-cppsim-") as tmp:
        tmp = Path(tmp)
        args = [str(frames)]
        for (i, port), x in zip(stream_inputs(inst), inputs):
            (tmp / f"{port}.txt").write_text("".join(f"{b:x}\n" for b in to_beats(inst, i, x)))
            args.append(str(tmp / f"{port}.txt"))
        args += [str(tmp / f"{port}.txt") for _, port in stream_outputs(inst)]
        csim.run(exe, args)
        return [from_beats(inst, o, [int(v, 16) for v in (tmp / f"{port}.txt").read_text().split()], frames)
                for o, port in stream_outputs(inst)]


def execute_cppsim(inst, context) -> None:
    node = inst.onnx_node
    inputs = [np.asarray(context[node.input[i]]).reshape(inst.get_normal_input_shape(i))
              for i, _ in stream_inputs(inst)]
    for o, y in enumerate(simulate_cpp(inst, inputs)):
        context[node.output[o]] = y.reshape(inst.get_normal_output_shape(o))


def prepare(inst, model, backend: str, code_dir: Path | None = None) -> None:
    """Generate the node's code for ``backend`` ("rtl" or "hls") into ``code_dir``."""
    code_dir = Path(code_dir or tempfile.mkdtemp(prefix=f"bnnforge-{inst.onnx_node.name}-"))
    code_dir.mkdir(parents=True, exist_ok=True)
    if backend == "rtl":
        inst.set_nodeattr("code_gen_dir_ipgen", str(code_dir))
        inst.generate_hdl(model, "xc7z020clg400-1", 10.0)
        inst.set_nodeattr("exec_mode", "rtlsim")
    else:
        generate_cppsim(inst, model, code_dir)
        inst.set_nodeattr("exec_mode", "cppsim")
