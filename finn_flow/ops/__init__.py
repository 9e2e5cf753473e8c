"""bnnforge's custom FINN ops. Importing this package registers them with finn-plus."""

from bnnforge.finn_flow.finn_compat import prepare_finn

prepare_finn()

from bnnforge.finn_flow.ops.dynamic_threshold import (  # noqa: E402
    DynamicThreshold,
    DynamicThreshold_hls,
    DynamicThreshold_rtl,
)
from bnnforge.finn_flow.ops.lab_binarizer import LabBinarizer, LabBinarizer_hls, LabBinarizer_rtl  # noqa: E402

CUSTOM_OP_TYPES = ("LabBinarizer", "DynamicThreshold")

__all__ = [
    "LabBinarizer",
    "LabBinarizer_hls",
    "LabBinarizer_rtl",
    "DynamicThreshold",
    "DynamicThreshold_hls",
    "DynamicThreshold_rtl",
    "CUSTOM_OP_TYPES",
]
