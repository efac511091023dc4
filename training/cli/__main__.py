"""``python -m training.cli``: the same as the ``feedback`` command."""

import sys

from training.cli import main

sys.exit(main())
