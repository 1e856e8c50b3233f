"""``avcfix build --new-domain NAME --exec PATH``: a new domain's skeleton module.

Without log sources the skeleton is written (NAME.te, NAME.if, NAME.fc,
refpolicy style), compiled with the devel Makefile, and with ``--install``
installed and verified (the types exist; init's domain enters NAME_t on
NAME_exec_t). With log sources the skeleton is written first and the normal
build then merges the rules for NAME_t's denials into it.
"""

from __future__ import annotations

from pathlib import Path

from avcfix.cli.app import console, console_err
from avcfix.cli.common import markup_text
from avcfix.errors import UsageError
from avcfix.report.documents import versioned, write_document
from avcfix.text import visible
from avcfix.toolchain.store import PolicyRoot, host_policy_name

#: Version of the ``--json`` document of ``build --new-domain`` (README).



def new_domain_build(name: str | None, exec_path: str | None, permissive: bool, args: list[str], *,
                     module: str | None, out_dir: Path, root: Path | None, install: bool,
                     priority: int | None, as_json: bool, all_domains: bool,
                     cil: bool) -> tuple[list[str], str] | None:
    """Handle ``--new-domain``; None when done, else (args, module) for the normal build."""
    from avcfix.newdomain import build_new_domain, next_steps

    if name is None or exec_path is None:
        raise UsageError("--new-domain NAME and --exec PATH go together"
                         + (" (--permissive-domain applies to --new-domain)" if permissive and name is None else ""))
    if all_domains:
        raise UsageError("--new-domain writes one domain: it does not go with --all-domains")
    if module is not None and module != name:
        raise UsageError(f"--new-domain {name}: the module is named {name} (drop --module {module})")
    if cil:
        raise UsageError("--new-domain writes a refpolicy module (.te/.if/.fc): --cil does not apply")
    if priority is not None and not install:
        raise UsageError("--priority applies to --install")
    proot = PolicyRoot(Path(root), host_policy_name(Path(root))) if root is not None else None
    sources = list(args)
    if sources:
        # the skeleton first (not compiled: the normal build compiles it with the rules)
        res = build_new_domain(name, exec_path, out_dir=out_dir, root=proot, compile=False)
        if not as_json:
            console_err.print(f"[bold]{markup_text(name)}[/]: {'wrote' if res.written else 'kept'} the skeleton "
                              f"[cyan]{markup_text(res.te_path)}[/]; adding the rules of {markup_text(res.skeleton.domain)}'s denials")
        return [res.skeleton.domain, *sources], name
    res = build_new_domain(name, exec_path, out_dir=out_dir, root=proot, install=install, priority=priority,
                           permissive=permissive)
    steps = next_steps(res)
    if as_json:
        write_document(versioned(new_domain=res.to_json(), next_steps=steps))
    else:
        sk = res.skeleton
        verb = "wrote" if res.written else "kept the existing"
        console.print(f"[bold]{markup_text(sk.name)}[/]: {verb} [cyan]{markup_text(res.te_path)}[/], [cyan]{markup_text(res.if_path)}[/] "
                      f"and [cyan]{markup_text(res.fc_path)}[/]", soft_wrap=True)
        console.print(f"  domain {markup_text(sk.domain)}, entered by executing {markup_text(sk.exec_path)} ({markup_text(sk.exec_type)}); "
                      f"files: {markup_text(', '.join(sk.file_types.values()))}", soft_wrap=True)
        if sk.permissive:
            console.print(f"  [yellow]permissive {markup_text(sk.domain)}[/]: denials are logged, not enforced")
        for line in sk.left_out:
            console.print(f"  [yellow]left out[/] (not in the policy headers): {markup_text(line)}", soft_wrap=True)
        if res.pp_path is not None:
            console.print(f"  compiled [cyan]{markup_text(res.pp_path)}[/]")
        if res.already_installed:
            console.print("  already installed (the same package is in the store)")
        elif res.installed:
            console.print("  installed with semodule")
        if res.installed:
            if res.verified:
                trans = ", ".join(f"{s} -> {d}" for s, d in res.transitions)
                console.print(f"  [green]verified:[/] the types are in the policy; transitions {markup_text(trans)}")
            else:
                console.print(f"  [bold red]not verified:[/] missing types {markup_text(list(res.missing_types))}, "
                              f"transitions {markup_text(list(res.transitions))}")
        console.print("next steps:")
        for line in steps:
            console.print(f"  {visible(line)}", markup=False, soft_wrap=True)
    if res.installed and not res.verified:
        from avcfix.errors import InstallError

        raise InstallError(f"{res.skeleton.name}: the rebuilt policy lacks "
                           + (", ".join(res.missing_types) or f"init_t's transition to {res.skeleton.domain}"))
    return None
