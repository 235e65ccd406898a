"""``python -m app``: the same as the ``tablescribe`` command."""

import sys

from app.cli import main

sys.exit(main())
