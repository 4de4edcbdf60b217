"""`python -m kcnn.cli`: the same as the `kcnn` command."""

import sys

from kcnn.cli import main

sys.exit(main())
