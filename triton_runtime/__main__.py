"""``python -m triton_runtime install --dest .triton`` (what ``make setup`` runs) and ``locate``."""

import sys

from triton_runtime.server import main

sys.exit(main())
