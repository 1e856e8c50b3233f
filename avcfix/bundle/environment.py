"""``environment.json``: what the host says about SELinux (through :class:`HostFacts`).

Every fact is a :class:`~avcfix.bundle.facts.Fact`: known, or missing with the
reason. Gathering never raises for a missing fact.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from avcfix.bundle.facts import Fact
from avcfix.bundle.hostfacts import HostFacts

#: Most paths whose labels are recorded.
MAX_LABELS = 100

#: Format version of environment.json.
ENVIRONMENT_VERSION = 1


@dataclass(frozen=True, slots=True)
class TouchedBoolean:
    """A boolean named by a denial's explanation, and its default in the policy."""

    name: str
    policy_default: bool | None


@dataclass(frozen=True, slots=True)
class Environment:
    """The gathered facts (paths are the host's own; redaction happens at output)."""

    selinux_mode: Fact
    policy_name: Fact
    kernel_policy: Fact
    policy_file: Fact
    modules: Fact
    booleans_touched: tuple[TouchedBoolean, ...]
    booleans_non_default: Fact
    packages: Mapping[str, Fact]
    os_release: Fact
    kernel: Fact
    labels: Mapping[str, Fact]

    def as_json(self, path_text: Callable[[str], str] = str) -> dict[str, object]:
        """The JSON document; ``path_text`` maps paths and missing reasons (redaction)."""

        def fact(f: Fact) -> dict[str, object]:
            return f.as_json() if f.ok else {"missing": path_text(f.missing or "")}

        labels: dict[str, dict[str, object]] = {}
        for path in sorted(self.labels):
            labels[path_text(path)] = fact(self.labels[path])
        policy_file = fact(self.policy_file)
        if self.policy_file.ok and isinstance(self.policy_file.value, dict):
            value = dict(self.policy_file.value)
            value["path"] = path_text(str(value.get("path", "")))
            policy_file = {"value": value}
        return {
            "version": ENVIRONMENT_VERSION,
            "selinux_mode": fact(self.selinux_mode),
            "policy_name": fact(self.policy_name),
            "kernel_policy": fact(self.kernel_policy),
            "policy_file": policy_file,
            "modules": fact(self.modules),
            "booleans_touched": [{"name": b.name, "policy_default": b.policy_default}
                                 for b in self.booleans_touched],
            "booleans_non_default": fact(self.booleans_non_default),
            "packages": {k: fact(self.packages[k]) for k in sorted(self.packages)},
            "os_release": fact(self.os_release),
            "kernel": fact(self.kernel),
            "labels": labels,
        }

    def missing(self) -> list[tuple[str, str]]:
        """``(fact, reason)`` of every missing fact, in document order."""
        out = []
        for name in ("selinux_mode", "policy_name", "kernel_policy", "policy_file", "modules",
                     "booleans_non_default", "os_release", "kernel"):
            fact: Fact = getattr(self, name)
            if not fact.ok:
                out.append((name, fact.missing or ""))
        for key in sorted(self.packages):
            if not self.packages[key].ok:
                out.append((f"packages.{key}", self.packages[key].missing or ""))
        return out


def _safely(fn: Callable[[], Fact], what: str) -> Fact:
    """A fact, or missing when asking for it failed unexpectedly (never aborts)."""
    try:
        return fn()
    except Exception as exc:  # a host oddity must not cost the whole bundle
        return Fact.absent(f"could not gather {what}: {type(exc).__name__}: {exc}")


def gather_environment(
    host: HostFacts,
    *,
    policy_path: Path | None,
    paths: Sequence[str],
    booleans: Sequence[TouchedBoolean],
) -> Environment:
    """Ask ``host`` for every fact; ``paths`` get their labels (first :data:`MAX_LABELS`)."""
    touched = tuple(sorted(set(booleans), key=lambda b: b.name))
    current = _safely(lambda: host.boolean_values([b.name for b in touched]), "boolean values") \
        if touched else Fact.known({})
    if current.ok:
        values = current.value or {}
        non_default = Fact.known([
            {"name": b.name, "current": values[b.name], "policy_default": b.policy_default}
            for b in touched
            if b.name in values and b.policy_default is not None and values[b.name] != b.policy_default
        ])
    else:
        non_default = current
    try:
        packages = dict(host.packages())
    except Exception as exc:
        packages = {"selinux-policy": Fact.absent(f"could not query packages: {exc}")}
    labels = {p: _safely(partial(host.label, p), "label") for p in sorted(set(paths))[:MAX_LABELS]}
    return Environment(
        selinux_mode=_safely(host.selinux_mode, "the SELinux mode"),
        policy_name=_safely(host.policy_name, "the policy name"),
        kernel_policy=_safely(host.kernel_policy, "the loaded policy"),
        policy_file=_safely(lambda: host.policy_file(policy_path), "the policy file"),
        modules=_safely(host.modules, "the module list"),
        booleans_touched=touched,
        booleans_non_default=non_default,
        packages=packages,
        os_release=_safely(host.os_release, "the OS release"),
        kernel=_safely(host.kernel, "the kernel release"),
        labels=labels,
    )
