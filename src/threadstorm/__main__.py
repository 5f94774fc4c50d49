"""``python -m threadstorm``."""

from threadstorm.cli.main import entry

entry()
