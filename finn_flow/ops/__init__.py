"""bnnforge's FINN ops and backend classes. Importing this package registers them with
finn-plus (and prepares FINN for use outside its CLI). Which class implements which
layer is listed in bnnforge.finn_flow.registry."""

from bnnforge.finn_flow.finn_compat import prepare_finn

prepare_finn()

from bnnforge.finn_flow.layer_params import DynThreshParams, LabParams  # noqa: E402
from bnnforge.finn_flow.ops.backends import BnnforgeHLS, BnnforgeRTL  # noqa: E402
from bnnforge.finn_flow.ops.dynamic_threshold import (  # noqa: E402
    DynamicThreshold,
    DynamicThreshold_hls,
    DynamicThreshold_rtl,
)
from bnnforge.finn_flow.ops.lab_binarizer import LabBinarizer, LabBinarizer_hls, LabBinarizer_rtl  # noqa: E402
from bnnforge.finn_flow.ops.matrix_rtl import MVAU_lut_rtl, VVAU_lut_rtl  # noqa: E402
from bnnforge.finn_flow.ops.stock_rtl import (  # noqa: E402
    DuplicateStreams_rtl,
    ElementwiseAdd_lut_rtl,
    ElementwiseMul_lut_rtl,
    ElementwiseSub_lut_rtl,
    GlobalAccPool_rtl,
    LabelSelect_rtl,
    Pool_rtl,
)

__all__ = [
    "BnnforgeHLS",
    "BnnforgeRTL",
    "DynThreshParams",
    "DynamicThreshold",
    "DynamicThreshold_hls",
    "DynamicThreshold_rtl",
    "LabBinarizer",
    "LabBinarizer_hls",
    "LabBinarizer_rtl",
    "LabParams",
    "DuplicateStreams_rtl",
    "ElementwiseAdd_lut_rtl",
    "ElementwiseMul_lut_rtl",
    "ElementwiseSub_lut_rtl",
    "GlobalAccPool_rtl",
    "LabelSelect_rtl",
    "Pool_rtl",
    "MVAU_lut_rtl",
    "VVAU_lut_rtl",
]
