"""``python -m diffmesh.cli`` (used by ``torchrun ... -m diffmesh.cli train``)."""

import sys

from diffmesh.cli import main

sys.exit(main())
