"""RTL of the custom layers, cocotb + Verilator testbenches and runners."""
