"""Binary neural networks with sign, LAB and DyBNN binarizers (Brevitas QAT), export and golden model."""
