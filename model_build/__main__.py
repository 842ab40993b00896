"""``python -m model_build``: see :mod:`model_build.cli`."""

import sys

from model_build.cli import main

sys.exit(main())
