"""Everything that prints or returns an exit code: the command handlers."""
