"""Generic labels: types that say "nobody labelled this", as data.

A denial on one of these is usually fixed by labelling the object (a port or
a path), not by allowing the domain to touch everything that carries the
generic label.
"""

from __future__ import annotations

#: Port types that cover whole ranges of unassigned ports.
GENERIC_PORT_TYPES = frozenset(
    {
        "port_t",
        "unreserved_port_t",
        "reserved_port_t",
        "hi_reserved_port_t",
        "ephemeral_port_t",
        "unlabeled_t",
    }
)

#: File types a path gets from its parent directory when no file_contexts
#: entry names it.
GENERIC_FILE_TYPES = frozenset(
    {
        "default_t",
        "etc_t",
        "file_t",
        "home_root_t",
        "root_t",
        "tmp_t",
        "tmpfs_t",
        "unlabeled_t",
        "usr_t",
        "var_lib_t",
        "var_log_t",
        "var_run_t",
        "var_spool_t",
        "var_t",
    }
)

#: Socket classes whose name_bind/name_connect target a port, and the
#: protocol word semanage expects for them.
PORT_PROTOCOLS = {
    "tcp_socket": "tcp",
    "udp_socket": "udp",
    "sctp_socket": "sctp",
    "dccp_socket": "dccp",
}

#: Permissions that use a port label.
PORT_PERMS = frozenset({"name_bind", "name_connect"})

#: Domains that are unconfined by name even when the policy is unknown.
UNCONFINED_DOMAIN_NAMES = frozenset({"unconfined_t", "unconfined_service_t", "kernel_t", "initrc_t"})

#: Attribute that marks unconfined domains in refpolicy-derived policies.
UNCONFINED_ATTRIBUTE = "unconfined_domain_type"
