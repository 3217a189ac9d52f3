"""``python -m infra.preview``: the preview-stack command line."""

from __future__ import annotations

import sys

from infra.preview.cli import main

if __name__ == "__main__":
    sys.exit(main())
