"""The private policy store fixtures are real and independent of the host."""

from __future__ import annotations

import hashlib

import setools


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_euca_fixture_module_is_installed_in_private_root(euca_root, host_root):
    host_before = _sha(host_root.policy_file)
    pol = setools.SELinuxPolicy(str(euca_root.policy_file))
    types = {str(t) for t in pol.types()}
    for t in ("eucalyptus_eucanetd_t", "eucalyptus_cloud_t", "eucalyptus_var_lib_t",
              "eucalyptus_var_run_t", "eucalyptus_eucanetd_port_t"):
        assert t in types
    # the host's policy was not touched by the install
    assert _sha(host_root.policy_file) == host_before
    assert euca_root.policy_file != host_root.policy_file
    fc = euca_root.file_contexts.read_text()
    assert "/var/lib/eucalyptus(/.*)?" in fc
