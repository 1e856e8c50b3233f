"""xperm: an ioctl command left out by allowxperm rules gets an allowxperm rule,
and ``avcfix build`` writes it, compiles it and installs it.

How checked: ``sesearch --allowxperm POLICY`` prints nothing for Debian's
refpolicy and Fedora's targeted policy (``seinfo``: Allowxperm: 0 in both), so the
restriction comes from tests/data/advisors/avcfix_special.te (fixture
special_root): ``sesearch --allowxperm`` on it prints ``allowxperm avcfix_xperm_t
avcfix_xperm_dev_t:chr_file ioctl 0x5401;``. 0x5402 and 0x5403 are left out,
0x5401 is listed. On the stock policies an ioctl with a command is never xperm.
"""

from __future__ import annotations

import subprocess

import pytest
from advisor_helpers import facts_for, findings, one

from avcfix.builder import BuildOptions, build_module
from avcfix.explain.model import AdviceKind, Reason
from avcfix.policy.generate import generate_module
from avcfix.policy.model import XpermRule
from avcfix.toolchain.store import copy_root

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def special(special_root):
    return facts_for(special_root)


def test_one_command(special):
    f = one("xperm_one.log", special)
    assert f.reason is Reason.XPERM
    first = f.advice[0]
    assert first.kind is AdviceKind.XPERM and first.advisor == "xperm"
    assert first.command == "allowxperm avcfix_xperm_t avcfix_xperm_dev_t:chr_file ioctl 0x5402;"
    assert first.confidence >= 70
    assert not any(a.kind is AdviceKind.MODULE for a in f.advice)


def test_two_commands_brace_list(special):
    f = one("xperm_two.log", special)
    assert f.advice[0].command == "allowxperm avcfix_xperm_t avcfix_xperm_dev_t:chr_file ioctl { 0x5402 0x5403 };"


def test_listed_command_is_allowed(special):
    f = one("xperm_listed.log", special)
    assert f.reason is Reason.ALLOWED_NOW and f.advice == ()


@pytest.mark.parametrize("root", ["host_root", "fedora_root"])
def test_stock_policies_have_no_restriction(request, root):
    f = one("ioctl_unrestricted.log", facts_for(request.getfixturevalue(root)))
    assert f.reason is not Reason.XPERM
    assert not any(a.kind is AdviceKind.XPERM for a in f.advice)


def test_generate_writes_allowxperm(special):
    gen = generate_module(findings("xperm_two.log", special), name="avcfix_xp")
    assert gen.left_out == ()
    xp = [r for r in gen.module.rules if isinstance(r, XpermRule)]
    assert len(xp) == 1 and xp[0].ranges == ((0x5402, 0x5403),)
    assert not [r for r in gen.module.rules if not isinstance(r, XpermRule)]


def test_build_compiles_and_installs(special, special_root, tmp_path):
    root = copy_root(special_root, tmp_path / "root")
    out = tmp_path / "out"
    out.mkdir()
    res = build_module(findings("xperm_two.log", special),
                       BuildOptions(module="avcfix_xp", out_dir=out, root=root, install=True))
    te = res.te_path.read_text()
    assert "allowxperm avcfix_xperm_t avcfix_xperm_dev_t:chr_file ioctl { 0x5402-0x5403 };" in te
    assert "allowxperm, not allow" in te
    assert res.compiled and res.installed and res.missing_after_install == ()
    cp = subprocess.run(["sesearch", "--allowxperm", "-s", "avcfix_xperm_t", str(root.policy_file)],
                        capture_output=True, text=True, check=True)
    # the kernel policy merges the test module's 0x5401 with the new rule
    assert cp.stdout.strip() == "allowxperm avcfix_xperm_t avcfix_xperm_dev_t:chr_file ioctl 0x5401-0x5403;"
    after = one("xperm_two.log", facts_for(root))
    assert after.reason is Reason.ALLOWED_NOW
