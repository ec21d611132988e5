"""`python -m readiness.agent --config SITE --bind ADDR`: the same as `readiness agent`."""

import sys

from ..commands.agent import main

sys.exit(main())
