"""The policy facts a run explains with: which backend, opened once and shared.

- :func:`open_facts` finds the policy to explain against (a file, a policy
  root's, or the loaded one) and opens its facts: the cached policy index
  (:class:`avcfix.index.facts.IndexFacts`), or with ``AVCFIX_FACTS=setools``
  setools and libselinux directly
  (:class:`avcfix.index.setools_facts.PolicyFacts`, the ground truth).
- :class:`CurrentFacts` holds the policy facts of the policy as it is now,
  opened once and shared by everything that asks the policy (the loop's
  explainer; the installer's check before an install and its verification
  after it; in the lab also the simulated kernel and its relabels). It is
  reopened when a file it was read from changed since it was opened (the
  policy file: a different file, inode, size or modification time; its
  file_contexts or policy.xml): an install's verification opens the rebuilt
  policy (its index is built once), which the next iteration explains with.
  The loop closes it when it ends.

Orchestration: it chooses between the backends of :mod:`avcfix.index` and
finds a root's policy with :mod:`avcfix.toolchain.store`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from avcfix.index.setools_facts import DEFAULT_POLICY_XML, PolicyFacts
from avcfix.toolchain.store import PolicyRoot, host_policy_name


def open_facts(
    policy: Path | None,
    root: Path | None,
    *,
    policy_xml: Path | None = None,
    backend: str | None = None,
) -> Any:
    """Open the policy to explain against, or ``None`` when there is none.

    ``policy`` given: that file (file_contexts from ``root`` when given, else
    the ones next to it when it sits in a policy root's ``policy/`` directory).
    Else ``root`` given: the highest ``policy.N`` under
    ``ROOT/etc/selinux/NAME/policy`` (NAME from ``ROOT/etc/selinux/config``)
    and that root's file_contexts. Else the loaded policy when SELinux is
    enabled. Else ``None``. Raises :class:`PolicyError` for a missing,
    unreadable or invalid policy file.

    The answers come from the cached policy index
    (:class:`avcfix.index.facts.IndexFacts`); ``backend="setools"`` (or
    ``AVCFIX_FACTS=setools``) asks setools and libselinux directly instead
    (:class:`PolicyFacts`, the ground truth the index is tested against).
    """
    file_contexts: Path | None = None
    xml = policy_xml
    if root is not None:
        proot = PolicyRoot(Path(root), host_policy_name(Path(root)))
        file_contexts = proot.file_contexts
        if xml is None:
            candidate = Path(root) / DEFAULT_POLICY_XML.relative_to("/")
            xml = candidate if candidate.is_file() else None
        if policy is None:
            policy = proot.policy_file
    if policy is None:
        loaded = _loaded_policy()
        if loaded is None:
            return None
        policy, file_contexts = loaded
    if file_contexts is None:
        file_contexts = _sibling_file_contexts(Path(policy))
    xml = xml if xml is not None else DEFAULT_POLICY_XML
    if (backend or os.environ.get("AVCFIX_FACTS", "index")) == "setools":
        return PolicyFacts(Path(policy), file_contexts, xml)
    from avcfix.index import open_index_facts

    return open_index_facts(Path(policy), file_contexts, xml)


def _sibling_file_contexts(policy: Path) -> Path | None:
    """``NAME/contexts/files/file_contexts`` for a policy at ``NAME/policy/policy.N``.

    A policy file inside a policy root comes with its own file_contexts; a
    lone policy file (copied elsewhere) has none, and restorecon advice needs
    ``--root``.
    """
    if policy.parent.name != "policy":
        return None
    fc = policy.parent.parent / "contexts" / "files" / "file_contexts"
    return fc if fc.is_file() else None


def _loaded_policy() -> tuple[Path, Path | None] | None:
    """The running kernel's policy file and file_contexts, when SELinux is on."""
    try:
        import selinux
    except ImportError:  # no libselinux bindings: no loaded policy can be found (as with SELinux off)
        return None
    try:
        if selinux.is_selinux_enabled() != 1:
            return None
        path = selinux.selinux_current_policy_path()
    except OSError:
        return None
    if not path:
        return None
    fc = selinux.selinux_file_context_path()
    return Path(path), (Path(fc) if fc else None)


#: A file's identity: path, device, inode, size, mtime and ctime (ns).
_FileIdentity = tuple[str, int, int, int, int, int]
#: The identities of the files facts were built from besides the policy
#: (just the path of one that cannot be read).
_InputsIdentity = tuple[_FileIdentity | tuple[str], ...]


def _policy_identity(path: Path | None) -> _FileIdentity | None:
    """What tells one policy file from another at the same path (None when unknown)."""
    if path is None:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (str(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _inputs_identity(facts: Any) -> _InputsIdentity:
    """The identities of every file the facts were built from besides the policy
    (file_contexts, ``.local``, ``.subs``, the run-time context files, policy.xml):
    a ``semanage fcontext`` changes them, not the policy file."""
    from avcfix.index.build import Inputs

    policy = getattr(facts, "path", None)
    if policy is None:
        return ()
    files = Inputs(Path(policy), getattr(facts, "file_contexts", None), getattr(facts, "policy_xml", None)).files()
    return tuple(_policy_identity(path) or (str(path),) for _role, path in files[1:])


class CurrentFacts:
    """The facts of the current policy of ``root`` (or of a policy file), opened once.

    :meth:`get` opens them on first use (:func:`open_facts`)
    and returns the same object as long as the files they were read from are
    the same (the policy file: path, inode, size, modification and change
    times; and its file_contexts and policy.xml), until :meth:`release`.
    ``opens`` counts the opens. The object returned is lent: only
    :meth:`release` (or a reopen) closes it, and facts given with
    :meth:`lend` are never closed here.

    One object serves a whole loop: the explainer, the lab's kernel and
    relabels, and the builder's check before an install and verification
    after it (:meth:`for_policy`, through the installer's
    :class:`~avcfix.index.setools_target.TargetCache`). The verification opens
    the rebuilt policy, which the next iteration then explains with; an
    iteration that changed no file reuses the facts it had.
    """

    def __init__(self, root: PolicyRoot | None = None, policy: Path | None = None) -> None:
        self.root = root
        self.policy = policy
        self.opens = 0
        self._facts: Any = None
        self._open = False
        self._owned = True
        self._identity: tuple[_FileIdentity | None, _InputsIdentity] | None = None

    def _policy_file(self) -> Path | None:
        if self.policy is not None:
            return Path(self.policy)
        if self.root is None:
            return None
        try:
            return self.root.policy_file
        except Exception:  # no policy in the root yet: open_facts reports it
            return None

    def _identity_of(self, facts: Any) -> tuple[_FileIdentity | None, _InputsIdentity]:
        return (_policy_identity(self._policy_file()), _inputs_identity(facts))

    def get(self) -> Any:
        """The facts (``None`` when there is no policy at all: no root, file or loaded policy)."""
        if self._open and self._identity_of(self._facts) == self._identity:
            return self._facts
        self.release()
        facts = open_facts(self.policy, self.root.root if self.root is not None else None)
        self._facts, self._open, self._owned = facts, True, True
        self._identity = self._identity_of(facts)
        self.opens += 1
        return facts

    def lend(self, facts: Any) -> None:
        """Use ``facts`` (of this policy, opened by the caller, who closes them) until the files change."""
        self.release()
        self._facts, self._open, self._owned = facts, True, False
        self._identity = self._identity_of(facts)

    def is_policy(self, path: Path | None) -> bool:
        """Whether ``path`` is this policy file (the same file, whatever the path)."""
        mine = self._policy_file()
        try:
            return mine is not None and path is not None and os.path.samefile(mine, path)
        except OSError:
            return False

    def for_policy(self, path: Path) -> Any:
        """The facts when ``path`` is this policy file (what the builder's target cache asks), else ``None``."""
        return self.get() if self.is_policy(path) else None

    def release(self) -> None:
        """Close the facts (if open and owned); the next :meth:`get` opens the policy again."""
        facts, owned = self._facts, self._owned
        self._facts, self._open, self._identity, self._owned = None, False, None, True
        close = getattr(facts, "close", None) if owned else None
        if close is not None:
            close()
