"""``python -m node.cli``: the ``banscan`` command."""

import sys

from node.cli.main import main

sys.exit(main())
