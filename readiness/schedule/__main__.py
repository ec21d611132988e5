"""`python -m readiness.schedule [show] CONFIG`: the same as `readiness schedule`."""

import sys

from .cli import main

sys.exit(main())
