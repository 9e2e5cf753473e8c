"""Binary neural networks with sign, LAB and DyBNN binarizers (Brevitas QAT), export and golden model.

The names below are what the command line offers; they live here, away from torch,
so that `bnnforge --help` and the non-training commands start fast.
"""

ARCHS = ("tfc", "cnv", "reactnet")
BINARIZERS = ("sign", "lab", "dybnn")
DATASETS = ("fashion-mnist", "digits", "cifar10", "folder")
DEVICES = ("auto", "cpu", "cuda")  # `bnnforge train --device`
# training images whose batch statistics replace BatchNorm's moving averages after each epoch
BN_RECALIBRATION_IMAGES = 4096
CROP_PAD = 4  # `--augment`: zero padding (pixels) around each training image before its random crop
