"""``python -m rehearsal.data_plane MOTO_URL [--port N]``."""

import sys

from rehearsal.data_plane.cli import cli

sys.exit(cli())
