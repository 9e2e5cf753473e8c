"""`bnnforge verify` column for the RTL of the custom layers (Verilator + cocotb)."""

from __future__ import annotations

import numpy as np

from bnnforge.finn_flow.verify_columns import custom_layer_inputs, test_pe
from bnnforge.model import golden
from bnnforge.model.integer import IntLab


def rtl_column(ctx, images: np.ndarray) -> dict[str, np.ndarray]:
    """RTL simulation of every custom layer, fed with the golden input of that layer,
    with random stalls on both stream sides."""
    from bnnforge.finn_flow.layer_params import DynThreshParams, LabParams
    from bnnforge.sim import runner

    out = {}
    for layer, x in custom_layer_inputs(ctx.net, images):
        pe = test_pe(x.shape[1])
        if isinstance(layer, IntLab):
            p = LabParams(layer.weights, layer.thresholds, x.shape[2], x.shape[3], layer.input_bits, layer.weight_bits, pe)
            out[layer.name] = runner.run_lab(p, x, stall=0.2).output
        else:
            t = golden.dybnn_thresholds(x, layer)
            out[layer.name] = runner.run_dynthresh(DynThreshParams.for_data(x, t, layer.input_bits, pe), x, t, stall=0.2).output
    return out
