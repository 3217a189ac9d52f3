"""`python -m workerkit [run|drain|check-config]`."""

from __future__ import annotations

import os
import sys

from workerkit.cli import main

if __name__ == "__main__":
    code = main(sys.argv[1:])
    # The SDK's native threads can abort the interpreter while it finalises, after a clean
    # drain; the exit code must be the drain's, so leave without finalising.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
