#!/bin/sh
# Run a script of this folder with PYNQ's own Python, as root, on a stock PYNQ image
# (2.7 or 3.x): `sudo ./run.sh validate.py`. sudo drops the environment, so the PYNQ
# virtual environment and XRT's settings are sourced here again.
set -e
cd "$(dirname "$0")"
for f in /etc/profile.d/pynq_venv.sh /etc/profile.d/xrt_setup.sh /opt/xilinx/xrt/setup.sh; do
    if [ -f "$f" ]; then . "$f" >/dev/null 2>&1 || true; fi
done
PY=/usr/local/share/pynq-venv/bin/python3
if [ ! -x "$PY" ]; then PY=python3; fi
if ! "$PY" -c "import pynq" 2>/dev/null; then
    echo "run.sh: $PY cannot import pynq: is this a PYNQ image (2.7 or 3.x)?" >&2
    exit 2
fi
exec "$PY" "$@"
