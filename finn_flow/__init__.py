"""FINN (finn-plus) build flow with bnnforge's custom LAB and dynamic-threshold layers."""
