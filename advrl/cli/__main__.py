"""``python -m advrl.cli``."""

import sys

from advrl.cli import main

sys.exit(main())
