"""`python -m readiness.schedule [show] CONFIG`: the same as `readiness schedule`."""

import sys

from ..commands.schedule import main

sys.exit(main())
