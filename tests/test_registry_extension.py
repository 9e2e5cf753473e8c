"""The registry is the only place that knows layer types: a layer defined in this file alone
(its FINN op, its RTL backend with its own SystemVerilog, its graph conversion and rules),
registered, goes through `build --until rtl`, `sim node` and `sim network` without any
other module knowing it.

The layer inverts binary values; the conversion puts two of them back to back after a
hidden layer of a trained tfc, so the network still computes the golden model's outputs
exactly, and each node is checked on its own against its Python execution.
"""

import numpy as np
import pytest
from finn.custom_op.fpgadataflow import register_custom_op
from finn.custom_op.fpgadataflow.hwcustomop import HWCustomOp
from finn.custom_op.fpgadataflow.rtl import register_custom_op as register_rtl_op
from finn.custom_op.fpgadataflow.rtlbackend import RTLBackend
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.transformation.base import Transformation
from qonnx.transformation.infer_shapes import InferShapes

from bnnforge import cli
from bnnforge.finn_flow import FINN_DOMAIN, registry
from bnnforge.finn_flow.ops.backends import BnnforgeRTL
from bnnforge.finn_flow.ops.rules import PERules
from bnnforge.finn_flow.simulate import reference

BIT_INVERT_SV = """// a test layer: the PE value bits of every beat inverted (W: TDATA padded to bytes), one beat per cycle
module bit_invert #(parameter int PE = 1, parameter int W = 8) (
  input  logic ap_clk,
  input  logic ap_rst_n,
  input  logic [W-1:0] in0_V_TDATA,
  input  logic in0_V_TVALID,
  output logic in0_V_TREADY,
  output logic [W-1:0] out0_V_TDATA,
  output logic out0_V_TVALID,
  input  logic out0_V_TREADY
);
  logic [W-1:0] data;
  logic full;
  assign in0_V_TREADY = !full || out0_V_TREADY;
  assign out0_V_TDATA = data;
  assign out0_V_TVALID = full;
  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      full <= 1'b0;
      data <= '0;
    end else if (in0_V_TREADY) begin
      full <= in0_V_TVALID;
      if (in0_V_TVALID) data <= in0_V_TDATA ^ W'((1 << PE) - 1);
    end
  end
endmodule
"""


@register_custom_op
class BitInvert(HWCustomOp):
    """y = 1 - x on BINARY values (channels innermost, PE channels per beat)."""

    def get_nodeattr_types(self):
        return {**super().get_nodeattr_types(), "NumChannels": ("i", True, 0), "PE": ("i", False, 1),
                "numInputVectors": ("ints", False, [1])}

    def _shape(self):
        return (*self.get_nodeattr("numInputVectors"), self.get_nodeattr("NumChannels"))

    def get_normal_input_shape(self, ind=0):
        return self._shape()

    def get_normal_output_shape(self, ind=0):
        return self._shape()

    def get_folded_input_shape(self, ind=0):
        *lead, c = self._shape()
        return (*lead, c // self.get_nodeattr("PE"), self.get_nodeattr("PE"))

    def get_folded_output_shape(self, ind=0):
        return self.get_folded_input_shape()

    def get_input_datatype(self, ind=0):
        return DataType["BINARY"]

    def get_output_datatype(self, ind=0):
        return DataType["BINARY"]

    def get_instream_width(self, ind=0):
        return self.get_nodeattr("PE")

    def get_outstream_width(self, ind=0):
        return self.get_nodeattr("PE")

    def get_number_output_values(self):
        return int(np.prod(self.get_folded_output_shape()[:-1]))

    def get_exp_cycles(self):
        return self.get_number_output_values()

    def make_shape_compatible_op(self, model):
        return super().make_const_shape_op(self._shape())

    def infer_node_datatype(self, model):
        model.set_tensor_datatype(self.onnx_node.output[0], DataType["BINARY"])

    def verify_node(self):
        return []

    def execute_node(self, context, graph):
        node = self.onnx_node
        context[node.output[0]] = (1 - np.asarray(context[node.input[0]])).astype(np.float32)

    def bram_estimation(self, fpgapart=None):
        return 0


@register_rtl_op
class BitInvert_rtl(BnnforgeRTL, BitInvert, RTLBackend):
    RTL_MODULE = "bit_invert"
    RTL_DEPS = ()
    LUT_PER_TERM = {"lanes": 1.0}

    def lut_terms(self):
        return {"lanes": self.get_nodeattr("PE")}

    def rtl_parameters(self, model):
        return {"PE": self.get_nodeattr("PE"), "W": self.get_instream_width_padded()}


class InsertBitInverters(Transformation):
    """Two BitInvert nodes on the first binary tensor that feeds an XNOR matrix product."""

    def apply(self, model):
        for consumer in model.graph.node:
            x = consumer.input[0]
            if consumer.op_type != "XnorPopcountMatMul" or model.find_producer(x) is None:
                continue
            if model.get_tensor_datatype(x) != DataType["BINARY"]:
                continue
            *lead, c = model.get_tensor_shape(x)
            y1, y2 = model.make_new_valueinfo_name(), model.make_new_valueinfo_name()
            at = list(model.graph.node).index(consumer)
            for i, (src, dst) in enumerate(((x, y1), (y1, y2))):
                model.graph.node.insert(at + i, helper.make_node(
                    "BitInvert", [src], [dst], domain=FINN_DOMAIN, backend="fpgadataflow", name=f"BitInvert_{i}",
                    NumChannels=c, numInputVectors=lead))
                model.set_tensor_datatype(dst, DataType["BINARY"])
            consumer.input[0] = y2
            return model.transform(InferShapes()), False
        return model, False


@pytest.fixture
def bit_invert_layer(tmp_path, monkeypatch):
    rtl = tmp_path / "bit_invert_rtl"
    rtl.mkdir()
    (rtl / "bit_invert.sv").write_text(BIT_INVERT_SV)
    monkeypatch.setattr(BitInvert_rtl, "RTL_DIR", rtl)
    registry.register(registry.Layer("BitInvert", BitInvert_rtl, rules=PERules("NumChannels"),
                                     convert=InsertBitInverters))
    yield
    registry.unregister("BitInvert")


def test_a_layer_registered_from_outside_goes_through_the_flow(bit_invert_layer, tfc_run, tmp_path, capsys):
    build = tmp_path / "build"
    assert cli.main(["build", str(tfc_run / "model.onnx"), "--board", "pynq-z2", "--until", "rtl", "--target-fps",
                     "20000", "--fifo-sizing", "minimal", "--no-timing", "--out", str(build)]) == 0, capsys.readouterr()
    model, _ = reference.latest_model(build)
    inverters = [n.name for n in model.graph.node if n.op_type == "BitInvert_rtl"]
    assert len(inverters) == 2
    assert (build / "rtl" / "bit_invert.sv").exists()
    for name in inverters:
        assert cli.main(["sim", "node", str(build), name, "--images", "3", "--stall", "0.3"]) == 0
        assert "bit-exact" in capsys.readouterr().out
    assert cli.main(["sim", "network", str(build), "--run", str(tfc_run), "--images", "4", "--stall", "0.3",
                     "--quiet"]) == 0
    assert "bit-exact: 4 images" in capsys.readouterr().out
    # the same checks catch the layer's RTL when it does not invert
    code = model.get_node_from_name(inverters[0])
    from qonnx.custom_op.registry import getCustomOp

    broken = getCustomOp(code).get_nodeattr("code_gen_dir_ipgen") + "/bit_invert.sv"
    with open(broken, "w") as f:
        f.write(BIT_INVERT_SV.replace("W'((1 << PE) - 1)", "W'(((1 << PE) - 1) << PE)"))  # the wrong bits
    assert cli.main(["sim", "node", str(build), inverters[0], "--images", "3"]) == 1
    assert "MISMATCH" in capsys.readouterr().out


def test_unregistered_the_layer_is_unknown():
    assert registry.by_op("BitInvert") is None
    assert not registry.is_ours("BitInvert_rtl")
