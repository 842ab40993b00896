"""``python -m triton_runtime install --dest .triton`` (what ``make setup`` runs), ``build-shim`` and ``locate``."""

import sys

from triton_runtime.server import cli

sys.exit(cli())
