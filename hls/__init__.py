"""HLS C++ kernels of the custom layers (package data; see bnnforge.toolenv.hls_dir)."""
