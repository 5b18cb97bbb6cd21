"""Entry point for ``python -m eventapp.allocation``."""

import sys

from .cli import main

sys.exit(main())
