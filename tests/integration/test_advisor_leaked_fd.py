"""leaked_fd: a descriptor inherited across execve gets a dontaudit rule and a
program fix first, never a confident allow rule (setroubleshoot's ``leaks``).

How the expectations were checked (Debian: /etc/selinux/default/policy/policy.33;
Fedora: ~/.cache/fedora-policy/root/etc/selinux/targeted/policy/policy.33):
- ``sesearch -A -s ping_t -t httpd_t -c fifo_file -p write`` and ``sesearch
  --dontaudit`` (same query): nothing in either policy -> te_rule;
- ``sesearch -A -s sendmail_t -t httpd_sys_rw_content_t -c file -p write``: nothing in either;
- ``sesearch -A -s ntpd_t -t var_log_t -c file -p append``: nothing on Debian; on
  Fedora ``allow daemon logfile:file { append ... }`` -> allowed_now (no advice);
- ``matchpathcon -f .../file_contexts /var/log/ntp-wrapper.log`` gives ntpd_log_t on
  Debian: restorecon would claim the wrapper's log; for a leaked descriptor it must not.
"""

from __future__ import annotations

import pytest
from advisor_helpers import facts_for, module_confidence, one

from avcfix.explain.model import AdviceKind, Reason

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["debian", "fedora"])
def facts(request):
    root = request.getfixturevalue("host_root" if request.param == "debian" else "fedora_root")
    return facts_for(root)


@pytest.fixture(scope="module")
def debian(host_root):
    return facts_for(host_root)


@pytest.mark.parametrize("log, rule", [
    ("leak_pipe.log", "dontaudit ping_t httpd_t:fifo_file { read write };"),
    ("leak_webapp_log.log", "dontaudit sendmail_t httpd_sys_rw_content_t:file { read write };"),
])
def test_leak_first_advice_is_dontaudit(facts, log, rule):
    f = one(log, facts)
    assert f.reason is Reason.TE_RULE
    first = f.advice[0]
    assert first.kind is AdviceKind.DONTAUDIT and first.advisor == "leaked_fd"
    assert first.command == rule
    assert first.confidence >= 70
    assert any("syscall=execve" in e for e in first.evidence)
    program = [a for a in f.advice if a.kind is AdviceKind.PROGRAM]
    assert program and "O_CLOEXEC" in program[0].command and program[0].command.startswith("# ")
    assert module_confidence(f) is not None and module_confidence(f) < 50
    assert not any(a.kind is AdviceKind.RESTORECON for a in f.advice)


def test_leaked_log_file_not_relabelled_debian(debian):
    # Debian's file_contexts give /var/log/ntp.* ntpd_log_t: without the leak
    # evidence restorecon would come first; the descriptor belongs to the wrapper
    f = one("leak_logfile.log", debian)
    assert f.reason is Reason.TE_RULE
    assert f.advice[0].command == "dontaudit ntpd_t var_log_t:file { append read write };"
    assert all(a.kind is not AdviceKind.RESTORECON for a in f.advice)
    assert module_confidence(f) < 50


def test_leaked_log_file_allowed_on_fedora(fedora_root):
    f = one("leak_logfile.log", facts_for(fedora_root))
    assert f.reason is Reason.ALLOWED_NOW and f.advice == ()


def test_open_is_not_a_leak(debian):
    # the same access from openat: the program opened it itself
    f = one("open_logfile.log", debian)
    assert not any(a.advisor == "leaked_fd" for a in f.advice)
    assert f.advice[0].kind is AdviceKind.RESTORECON  # ntpd_log_t per file_contexts (matchpathcon)


def test_the_executed_program_is_not_a_leak(facts):
    # execve with path= naming the program itself (a PATH item): not an inherited descriptor
    f = one("exec_program_read.log", facts)
    assert not any(a.advisor == "leaked_fd" for a in f.advice)


def test_no_policy_still_recognised():
    f = one("leak_pipe.log", None)
    assert f.reason is Reason.NO_POLICY
    assert f.advice[0].kind is AdviceKind.DONTAUDIT
    assert module_confidence(f) < 50


def test_build_writes_dontaudit_and_checkmodule_accepts_it(debian, tmp_path):
    # build: the leak and the transition noise become dontaudit rules (said so in
    # a comment); the real checkmodule compiles the module (no install)
    from advisor_helpers import findings

    from avcfix.builder import BuildOptions, build_module
    from avcfix.policy.model import AvRule, RuleKind

    found = findings("leak_pipe.log", debian) + findings("noise_httpd_cgi.log", debian)
    res = build_module(found, BuildOptions(module="avcfix_leak", out_dir=tmp_path, policy=debian.path))
    rules = [r for r in res.module.rules if isinstance(r, AvRule)]
    assert {(r.kind, str(r.sources), str(r.targets), str(r.perms)) for r in rules} == {
        (RuleKind.DONTAUDIT, "ping_t", "httpd_t", "{ read write }"),
        (RuleKind.DONTAUDIT, "httpd_t", "httpd_sys_script_t", "{ noatsecure rlimitinh siginh }"),
    }
    te = res.te_path.read_text()
    assert "dontaudit ping_t httpd_t:fifo_file { read write };" in te
    assert te.count("# dontaudit, not allow:") == 2
    assert "allow ping_t" not in te.replace("dontaudit ping_t", "")
    assert res.compiled and res.pp_path is not None and res.pp_path.is_file()


def test_include_advised_writes_the_allow_rule_instead(debian):
    from advisor_helpers import findings

    from avcfix.policy.generate import generate_module

    gen = generate_module(findings("leak_pipe.log", debian), name="avcfix_leak", include_advised=True)
    assert [str(r.kind.value) for r in gen.module.rules] == ["allow"]
