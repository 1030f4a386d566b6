"""``python -m tijori`` is the ``tijori`` command."""

import sys

from tijori.cli import main

sys.exit(main())
