"""Policy names: the identifier grammar (checkpolicy's and CIL's keywords,
module names and versions) and the names m4 would expand. Values only: the
lowest layer besides :mod:`avcfix.errors`, so that ``explain`` (which builds
commands with these names) and ``policy`` (which writes them) share it."""
