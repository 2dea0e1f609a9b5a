"""``python -m nst_tf``: see nst_tf/cli.py."""

import sys

from .cli import main

sys.exit(main())
