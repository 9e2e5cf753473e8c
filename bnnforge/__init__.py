"""bnnforge: FPGA accelerator generator for binary neural networks."""

__version__ = "0.1.0"
