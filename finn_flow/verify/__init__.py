"""`bnnforge verify`: every implementation against the reference.

    build.py         the build a verification simulates (one definition for runs and model files)
    run_columns.py   RUN_DIR: FINN's Python execution, C simulation, RTL and whole-accelerator
                     columns of bnnforge's own layers against the golden model
    model.py         MODEL.onnx: qonnx execution, FINN's Python execution, every node's RTL, the
                     whole accelerator

May import: everything else in finn_flow.
"""
