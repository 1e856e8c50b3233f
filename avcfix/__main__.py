"""``python -m avcfix``: the same as the ``avcfix`` console script."""

from avcfix.cli import entry

entry()
