"""The lab: a SIMULATED kernel for demos, tests and offline dry runs of ``avcfix loop``.

Everything but the kernel is real: the policy (a private policy root built
with the real ``semodule -p``), the access decisions (libselinux's audit2why
on that policy), the audit.log records, the toolchain that fixes them.
"""
