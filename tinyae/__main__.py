"""``python -m tinyae``: the command line (see tinyae.cli)."""
import sys

from .cli import main

sys.exit(main())
