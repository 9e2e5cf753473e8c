"""The deployment package for the board, and its check off the board.

    package.py       BUILD/deploy/: driver.py, io.json, validate.py, the test set, README
    offboard.py      the package's own driver.py and validate.py run here against the
                     Verilator simulation (`bnnforge sim driver`)
    pynq_shim.py     the stand-in for the `pynq` package that offboard.py installs
    on_board/        driver.py and validate.py as they are copied to the board: package data,
                     never imported by bnnforge (they import only numpy and pynq)

May import: ops, registry, flow/layout, simulate, rtl.
"""
