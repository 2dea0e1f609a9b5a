"""``python -m nst_tf``: see nst_tf/cli.py."""

import sys

try:  # Ctrl-C while the command line's own modules load: one line too (cli.main covers the rest)
    from .cli import main
except KeyboardInterrupt:
    print("interrupted: no output written", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
