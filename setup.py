"""The C extensions (everything else is in pyproject.toml).

They are declared here rather than in pyproject.toml's
``[[tool.setuptools.ext-modules]]`` because that table needs setuptools 74.1,
and the distributions build with their own setuptools (Debian 12: 66;
debian/ and avcfix.spec).

- ``avcfix.audit._cscan``: the optional C accelerator of the hot path
  (avcfix/audit/accel.py). Without a C compiler or Python headers the install
  goes on without it and the pure-Python code (the reference) runs instead.
- ``avcfix.index._policydump``: the optional C reader of the policy index
  (avcfix/index/build.py). libsepol's internals (policydb_read, the avtab) are
  only in its static library, so it links libsepol.a (Debian libsepol-dev,
  Fedora libsepol-static) with its symbols kept private to this module. Without
  it the install goes on and setools reads the policy (the reference).
"""

from setuptools import Extension, setup

CFLAGS = ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"]

setup(ext_modules=[
    Extension("avcfix.audit._cscan", ["avcfix/audit/_cscan.c"], optional=True, extra_compile_args=CFLAGS),
    Extension("avcfix.index._policydump", ["avcfix/index/_policydump.c"], optional=True,
              libraries=[":libsepol.a"], extra_compile_args=CFLAGS,
              extra_link_args=["-Wl,--exclude-libs,ALL"]),
])
