# avcfix: `make demo` and `make test` work on a fresh Debian/Ubuntu or Fedora/RHEL machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV    := .venv
PY      := $(VENV)/bin/python
AVCFIX  := $(VENV)/bin/avcfix
STAMP   := $(VENV)/.avcfix-setup
# The system packages were checked (and the missing ones installed) against the
# lists in this Makefile: redone only when the Makefile changes or the stamp is gone.
SYSDEPS_STAMP := $(VENV)/.avcfix-sysdeps
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# SELinux userspace from the distribution (see README "Requirements").
DEB_PKGS := checkpolicy semodule-utils policycoreutils policycoreutils-python-utils python3-audit \
            python3-setools setools python3-selinux python3-semanage selinux-policy-default \
            selinux-policy-dev auditd python3-venv python3-pip time gcc libc6-dev python3-dev \
            make m4 gawk selinux-utils libsepol-dev scdoc man-db groff-base python3-jsonschema \
            $(DEB_BUILD_PKGS) rpm rpmlint python3-typer python3-rich python3-pexpect
RPM_PKGS := checkpolicy policycoreutils policycoreutils-python-utils python3-audit python3-setools setools-console \
            python3-libselinux python3-libsemanage selinux-policy-targeted \
            selinux-policy-devel audit python3-pip time gcc python3-devel \
            make m4 gawk libselinux-utils libsepol-devel libsepol-static scdoc man-db groff-base \
            python3-jsonschema rpm-build rpmlint
# What `make deb` needs (debian/control's Build-Depends, the builder and lintian).
# make test builds the package too (tests/integration/test_packaging.py), so setup installs
# them, with rpm/rpmlint for the spec's test and Debian's own typer/rich/pexpect
# (the package's dependencies: the test runs the built avcfix with them).
DEB_BUILD_PKGS := debhelper dh-python pybuild-plugin-pyproject python3-all-dev python3-setuptools \
            libsepol-dev dpkg-dev lintian

.PHONY: help setup sysdeps venv demo man test test-all test-fast test-unit-plain test-asan asan-sysdeps bench bench-groups bench-index e2e e2e-sysdeps capture-kernel clean completions deb deb-sysdeps srpm lint typecheck

help:
	@echo "make demo   - set up, then run avcfix on the shipped eucanetd example"
	@echo "make lint   - ruff (avcfix, tests, bench) and mypy --strict (avcfix, the unit tier's fake Facts); CI runs it first"
	@echo "make typecheck - mypy --strict alone (part of make lint)"
	@echo "make test-unit-plain - the unit tier in a virtualenv without any SELinux binding (CI runs it)"
	@echo "make test   - set up (once), then the unit and integration tests (tests/unit, tests/integration)"
	@echo "make test-all - make test, then make e2e (the three tiers, as CI runs them)"
	@echo "make test-fast - the unit tests only (tests/unit: no SELinux tool or policy; under a minute)"
	@echo "make man    - render the man pages (man/*.scd, scdoc) into build/man"
	@echo "make test-asan - the C accelerator's and the fuzz tests under AddressSanitizer + UBSan"
	@echo "make bench  - benchmarks against audit2allow and ausearch (bench/)"
	@echo "make bench-groups - memory per distinct denial group (bench/groups.py)"
	@echo "make bench-index - the policy index against audit2why and the setools path (bench/index.py)"
	@echo "make e2e    - the loop inside an SELinux-enforcing VM (tests/e2e)"
	@echo "make deb    - the Debian package: build/deb/avcfix_VERSION_ARCH.deb (docs/packaging.md)"
	@echo "make srpm   - the source RPM from avcfix.spec: build/rpm/SRPMS/ (docs/packaging.md)"
	@echo "make capture-kernel - (maintainers) recapture tests/data/kernel in that VM"

setup: sysdeps venv

# Idempotent: installs only the packages that are missing. Done once: the stamp
# (in .venv, like the venv's) depends on this Makefile, which holds the package
# lists, so `make test` on a machine already set up goes straight to pytest, and
# a fresh clone (CI) still gets everything. `rm $(SYSDEPS_STAMP)` forces a recheck.
sysdeps: $(SYSDEPS_STAMP)

$(SYSDEPS_STAMP): Makefile
	@if command -v apt-get >/dev/null 2>&1; then \
	  missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	  if [ -n "$$missing" ]; then \
	    echo "installing: $$missing"; \
	    $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	  fi; \
	elif command -v dnf >/dev/null 2>&1; then \
	  missing=$$(for p in $(RPM_PKGS); do rpm -q $$p >/dev/null 2>&1 || echo $$p; done); \
	  if [ -n "$$missing" ]; then echo "installing: $$missing"; $(SUDO) dnf install -y -q $$missing; fi; \
	else \
	  echo "neither apt-get nor dnf found: install the SELinux userspace by hand (README)"; exit 1; \
	fi
	@mkdir -p $(VENV) && touch $(SYSDEPS_STAMP)

# The C accelerator (avcfix/audit/_cscan.c) and the policy index's C reader
# (avcfix/index/_policydump.c) are built by this install; changing them
# reinstalls. Without gcc/python3-dev (or libsepol's static library for the
# reader) the install goes on in pure Python (setools reads the policy).
$(STAMP): pyproject.toml setup.py requirements-lint.txt avcfix/audit/_cscan.c avcfix/index/_policydump.c | $(SYSDEPS_STAMP)
	@test -x $(PY) || /usr/bin/python3 -m venv --system-site-packages $(VENV)
	@# A current setuptools in the venv (the build needs 61+; Debian 12 ships 66).
	$(PY) -m pip install -q --disable-pip-version-check 'setuptools>=74.1'
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-lint.txt
	@$(PY) -m compileall -q avcfix >/dev/null  # bytecode caches even under PYTHONDONTWRITEBYTECODE
	@$(PY) -c 'from avcfix.audit.accel import cscan; print("C accelerator:", "built" if cscan else "not built (pure Python)")'
	@$(PY) -c 'from avcfix.index.build import policy_dumper as d; print("policy index C reader:", "built" if d() else "not built (setools reads the policy)")'
	@$(PY) -c 'import setools, selinux' || { echo "setools/selinux bindings do not import in $(VENV)"; exit 1; }
	@touch $(STAMP)

venv: $(STAMP)

# The demo (README "make demo"): why, build and a lab loop on the shipped eucanetd
# example. Everything goes under build/demo (recreated on every run): two private
# policy roots copied from the host's store (which is only read) with the
# fixture module avcfix/lab/policies/eucalyptus installed by the real toolchain.
DEMO       := build/demo
DEMO_LOG   := fixtures/eucanetd/audit.log
DEVEL_MK   := /usr/share/selinux/devel/Makefile
POLICYNAME  = $(or $(shell sed -n 's/^[[:space:]]*SELINUXTYPE=//p' /etc/selinux/config 2>/dev/null | tr -d '[:space:]'),default)

demo: setup
	@set -e; name='$(POLICYNAME)'; \
	test -d /var/lib/selinux/$$name || { echo "no policy store /var/lib/selinux/$$name (make setup installs the reference policy)"; exit 1; }; \
	rm -rf $(DEMO); mkdir -p $(DEMO)/base/etc/selinux $(DEMO)/base/var/lib/selinux $(DEMO)/fixture; \
	echo "== 1. a private policy root $(DEMO)/base: a copy of the '$$name' store + avcfix/lab/policies/eucalyptus"; \
	$(SUDO) cp -a /etc/selinux/$$name $(DEMO)/base/etc/selinux/; \
	$(SUDO) cp -a /var/lib/selinux/$$name $(DEMO)/base/var/lib/selinux/; \
	for f in config semanage.conf; do test ! -f /etc/selinux/$$f || $(SUDO) cp /etc/selinux/$$f $(DEMO)/base/etc/selinux/; done; \
	$(SUDO) chown -R "$$(id -u):$$(id -g)" $(DEMO)/base; \
	cp avcfix/lab/policies/eucalyptus.te avcfix/lab/policies/eucalyptus.if avcfix/lab/policies/eucalyptus.fc $(DEMO)/fixture/; \
	(cd $(DEMO)/fixture && MAKEFLAGS= make -f $(DEVEL_MK) eucalyptus.pp >make.log 2>&1) || { cat $(DEMO)/fixture/make.log; exit 1; }; \
	echo "   semodule -p $(DEMO)/base -s $$name -i eucalyptus.pp"; \
	semodule -p $(DEMO)/base -s $$name -i $(DEMO)/fixture/eucalyptus.pp; \
	cp -a $(DEMO)/base $(DEMO)/root
	@echo; echo "== 2. avcfix why $(DEMO_LOG) --root $(DEMO)/root   (also as JSON: $(DEMO)/why.json)"
	$(AVCFIX) why $(DEMO_LOG) --root $(DEMO)/root
	@$(AVCFIX) why $(DEMO_LOG) --root $(DEMO)/root --json > $(DEMO)/why.json
	@echo; echo "== 3. avcfix build eucanetd: one module, compiled, installed into $(DEMO)/root and verified"
	$(AVCFIX) build eucanetd $(DEMO_LOG) --root $(DEMO)/root --out-dir $(DEMO)/module --install
	@echo; echo "--- $(DEMO)/module/eucanetd_local.te"; cat $(DEMO)/module/eucanetd_local.te
	@echo; echo "== 4. avcfix loop --lab eucanetd-seed: a SIMULATED kernel, the real policy and toolchain"
	$(AVCFIX) loop --lab eucanetd-seed --lab-dir $(DEMO)/lab --root $(DEMO)/base --permissive --apply-advice --yes
	@echo; echo "demo outputs: $(DEMO)/ (why.json, module/, lab/audit.log, lab/module/)"

# The man pages: scdoc sources in man/, rendered into $(MAN_DIR) (tests/integration/test_man.py
# renders them into a temporary MAN_DIR and checks them against the CLI). The date
# on each page is its source's last commit (SOURCE_DATE_EPOCH wins), so a rebuild
# gives the same bytes.
MAN_DIR := build/man
MAN_SRC := $(wildcard man/*.scd)
MAN_OUT := $(patsubst man/%.scd,$(MAN_DIR)/%,$(MAN_SRC))

man: $(MAN_OUT)

$(MAN_DIR)/%: man/%.scd
	@command -v scdoc >/dev/null || { echo "scdoc not found: make setup installs it"; exit 1; }
	@mkdir -p $(MAN_DIR)
	@e="$${SOURCE_DATE_EPOCH:-$$(git log -1 --format=%ct -- $< 2>/dev/null)}"; \
	SOURCE_DATE_EPOCH="$${e:-$$(stat -c %Y $<)}" scdoc < $< > $@.tmp && mv $@.tmp $@
	@echo "scdoc $< -> $@"

# ruff and mypy, configured in pyproject.toml ([tool.ruff], [tool.mypy]; pinned in
# requirements-lint.txt). mypy runs with .venv's python: it sees the distribution's
# packages (setools, selinux). The first stage of CI (.ci/run): seconds, not minutes.
# typecheck: mypy --strict on avcfix/, then on the unit tier's FakeFacts, which
# tests/unit/test_engine_fake.py assigns to a `Facts` (the Protocol): mypy proves
# the fake implements it.
lint: setup
	$(VENV)/bin/ruff check avcfix tests bench
	@$(MAKE) --no-print-directory typecheck

typecheck: setup
	$(PY) -m mypy avcfix
	cd tests/unit && MYPYPATH=$(CURDIR) ../../$(PY) -m mypy --strict --follow-imports=silent fakes.py test_engine_fake.py

test: setup man
	$(PY) -m pytest -q tests/unit tests/integration

# All three tiers: unit, integration, then the SELinux-enforcing VM (tests/e2e,
# ~25-30 min). `make test` leaves the VM out: it is what the README promises on
# any fresh Debian or Fedora machine, and the VM image is built with Debian's
# tools; CI (.ci/run) runs the three tiers.
test-all: test e2e

# The unit tier alone: under a minute on 2 cores (docs/testing.md has the times).
test-fast: setup
	$(PY) -m pytest -q tests/unit

# The unit tier where nothing of SELinux is installed: a virtualenv WITHOUT the
# system's site packages (no setools, selinux or audit bindings), avcfix and its
# test extras from PyPI, pure Python (AVCFIX_PURE: the C accelerator is not
# loaded). The unit tier must pass there (docs/testing.md); CI runs it (.ci/run).
PLAIN_VENV := build/plain-venv
test-unit-plain: sysdeps
	@rm -rf $(PLAIN_VENV); /usr/bin/python3 -m venv $(PLAIN_VENV)
	$(PLAIN_VENV)/bin/python -m pip install -q --disable-pip-version-check '.[test]'
	@! $(PLAIN_VENV)/bin/python -c 'import setools' 2>/dev/null || { echo "setools is importable in $(PLAIN_VENV)"; exit 1; }
	@! $(PLAIN_VENV)/bin/python -c 'import selinux' 2>/dev/null || { echo "selinux is importable in $(PLAIN_VENV)"; exit 1; }
	@! $(PLAIN_VENV)/bin/python -c 'import audit' 2>/dev/null || { echo "audit is importable in $(PLAIN_VENV)"; exit 1; }
	AVCFIX_PURE=1 PYTHONSAFEPATH=1 $(PLAIN_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/unit

# The C accelerator under AddressSanitizer and UBSan (README "Tests"), and the
# policy index's C reader (_policydump, when libsepol.a is there; its slow
# store test is left out). The
# sanitized _cscan is built into $(ASAN_DIR), a copy of the package put first on
# the import path (the in-place .so is untouched); CPython is not built with
# ASan, so libasan is preloaded, and PYTHONMALLOC=malloc lets ASan see every
# Python allocation. PYTHONSAFEPATH: the current directory (this checkout, with
# the normal .so) does not come before the copy on sys.path. tests/integration/test_asan.py
# fails unless the sanitized build is the one loaded and the ASan runtime is
# live. allocator_may_return_null: a mutated policy's huge count makes libsepol
# ask for gigabytes; malloc returns NULL (its error path), as it does without
# ASan, instead of ASan aborting. Runs in CI after make test (.ci/run).
ASAN_DIR    := build/asan
ASAN_CFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1 \
               -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
ASAN_TESTS  := tests/integration/test_asan.py tests/integration/test_accel.py tests/integration/test_fuzz_cli.py \
               tests/integration/test_index_dump.py
ASAN_RPM_PKGS := libasan libubsan

# gcc brings the runtimes on Debian/Ubuntu (libasan8, libubsan1); Fedora/RHEL ship them apart.
asan-sysdeps:
	@if command -v dnf >/dev/null 2>&1; then \
	  missing=$$(for p in $(ASAN_RPM_PKGS); do rpm -q $$p >/dev/null 2>&1 || echo $$p; done); \
	  if [ -n "$$missing" ]; then echo "installing: $$missing"; $(SUDO) dnf install -y -q $$missing; fi; \
	fi

test-asan: setup asan-sysdeps
	@set -e; \
	libasan=$$(readlink -f "$$(gcc -print-file-name=libasan.so)"); \
	test -f "$$libasan" || { echo "libasan not found (gcc -print-file-name=libasan.so): install gcc's ASan runtime"; exit 1; }; \
	suffix=$$($(PY) -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))'); \
	include=$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["include"])'); \
	rm -rf $(ASAN_DIR); mkdir -p $(ASAN_DIR); \
	cp -r avcfix $(ASAN_DIR)/; \
	find $(ASAN_DIR) \( -name '*.so' -o -name __pycache__ \) -prune -exec rm -rf {} +; \
	echo "gcc $(ASAN_CFLAGS) -> $(ASAN_DIR)/avcfix/audit/_cscan$$suffix"; \
	gcc -shared -fPIC $(ASAN_CFLAGS) -I"$$include" avcfix/audit/_cscan.c -o $(ASAN_DIR)/avcfix/audit/_cscan$$suffix; \
	if [ -f "$$(gcc -print-file-name=libsepol.a)" ] && [ -d /usr/include/sepol ]; then \
	  echo "gcc $(ASAN_CFLAGS) -> $(ASAN_DIR)/avcfix/index/_policydump$$suffix (libsepol.a itself not instrumented)"; \
	  gcc -shared -fPIC $(ASAN_CFLAGS) -I"$$include" avcfix/index/_policydump.c -l:libsepol.a -Wl,--exclude-libs,ALL \
	    -o $(ASAN_DIR)/avcfix/index/_policydump$$suffix; \
	else echo "no libsepol.a: the policy index's C reader is not tested under ASan"; fi; \
	PYTHONPATH=$(abspath $(ASAN_DIR)) PYTHONSAFEPATH=1 AVCFIX_ASAN_BUILD=$(abspath $(ASAN_DIR)) \
	PYTHONMALLOC=malloc \
	LD_PRELOAD="$$libasan" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allocator_may_return_null=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	$(PY) -m pytest -q -p no:cacheprovider -m 'not slow' $(ASAN_TESTS)

bench: setup
	$(PY) bench/run.py

bench-groups: setup
	$(PY) bench/groups.py

bench-index: setup
	$(PY) bench/index.py

# The end-to-end proof (README "End-to-end proof"): builds a Debian image with the
# reference policy enforcing (cached in ~/.cache/avcfix/e2e), boots it with QEMU and
# runs why/loop/bundle against the real kernel. Needs root (debootstrap, chroot).
E2E_DEB_PKGS := qemu-system-x86 qemu-utils debootstrap e2fsprogs gcc libc6-dev
E2E_RPM_PKGS := qemu-system-x86 qemu-img debootstrap e2fsprogs gcc glibc-static

e2e-sysdeps:
	@if command -v apt-get >/dev/null 2>&1; then \
	  missing=$$(for p in $(E2E_DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	  if [ -n "$$missing" ]; then \
	    echo "installing: $$missing"; \
	    $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	  fi; \
	elif command -v dnf >/dev/null 2>&1; then \
	  missing=$$(for p in $(E2E_RPM_PKGS); do rpm -q $$p >/dev/null 2>&1 || echo $$p; done); \
	  if [ -n "$$missing" ]; then echo "installing: $$missing"; $(SUDO) dnf install -y -q $$missing; fi; \
	fi

e2e: setup e2e-sysdeps
	$(SUDO) $(PY) -m pytest -m e2e -p no:cacheprovider tests/e2e

# A maintainer tool, not part of make test: boots the cached e2e image, provokes real
# denials with a probe in a small test domain and rewrites tests/data/kernel (its README).
capture-kernel: setup e2e-sysdeps
	$(SUDO) $(PY) tests/e2e/capture_kernel.py

# The shell completion scripts in completions/ (committed; a test checks they match the CLI).
completions: setup
	$(PY) -m avcfix.cli.completion --write completions

# ---------------------------------------------------------------- packages
# docs/packaging.md. One version: avcfix/__init__.py's __version__; debian/changelog
# and avcfix.spec must carry it (checked here and by tests/integration/test_packaging.py).
VERSION  = $(shell sed -n 's/^__version__ = "\(.*\)"$$/\1/p' avcfix/__init__.py)
DEB_DIR  := build/deb
RPM_DIR  := build/rpm
# The source tree as it is (tracked and new files, not the ignored ones: .venv,
# build/, *.so), copied to $(1): packages build out of tree, the checkout stays clean.
define copy_tree
	mkdir -p $(1); \
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
	  git ls-files -z -co --exclude-standard | tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C $(1); \
	else \
	  tar --exclude=./.venv --exclude=./build --exclude=./.git --exclude='*.so' --exclude=__pycache__ -cf - . | tar -xf - -C $(1); \
	fi
endef

# Idempotent, like sysdeps: the Debian build's own packages only.
deb-sysdeps:
	@command -v apt-get >/dev/null 2>&1 || { echo "make deb needs Debian/Ubuntu (apt-get, dpkg-buildpackage)"; exit 1; }
	@missing=$$(for p in $(DEB_BUILD_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# The distribution's python3 builds the package, not one first on PATH (pyenv, a venv).
DEB_PATH := /usr/sbin:/usr/bin:/sbin:/bin
# build/deb/avcfix_VERSION_ARCH.deb (dpkg-buildpackage -b in build/deb/avcfix-VERSION),
# then lintian on it (its findings are printed; tests/integration/test_packaging.py holds the list).
deb: deb-sysdeps
	@set -e; v='$(VERSION)'; cv=$$(dpkg-parsechangelog -l debian/changelog -S Version); \
	test "$$cv" = "$$v" || { echo "debian/changelog is at $$cv, avcfix/__init__.py at $$v: add a changelog entry (dch -v $$v)"; exit 1; }; \
	rm -rf $(DEB_DIR); $(call copy_tree,$(DEB_DIR)/avcfix-$$v); \
	(cd $(DEB_DIR)/avcfix-$$v && env PATH=$(DEB_PATH) dpkg-buildpackage -us -uc -b) > $(DEB_DIR)/build.log 2>&1 || { tail -40 $(DEB_DIR)/build.log; exit 1; }; \
	deb=$(DEB_DIR)/avcfix_$${v}_$$(dpkg --print-architecture).deb; test -f "$$deb"; \
	rm -rf $(DEB_DIR)/avcfix-$$v; \
	echo "built $$deb (log: $(DEB_DIR)/build.log)"; \
	lintian --no-tag-display-limit "$$deb" | tee $(DEB_DIR)/lintian.txt || true

# build/rpm/SRPMS/avcfix-VERSION-1.src.rpm from avcfix.spec, Source0 made from the tree.
srpm:
	@set -e; v='$(VERSION)'; sv=$$(sed -n 's/^Version:[[:space:]]*//p' avcfix.spec); \
	test "$$sv" = "$$v" || { echo "avcfix.spec is at $$sv, avcfix/__init__.py at $$v"; exit 1; }; \
	command -v rpmbuild >/dev/null || { echo "rpmbuild not found (make setup installs rpm)"; exit 1; }; \
	rm -rf $(RPM_DIR); mkdir -p $(RPM_DIR)/SOURCES; $(call copy_tree,$(RPM_DIR)/tree/avcfix-$$v); \
	tar -C $(RPM_DIR)/tree -czf $(RPM_DIR)/SOURCES/avcfix-$$v.tar.gz avcfix-$$v; rm -rf $(RPM_DIR)/tree; \
	rpmbuild -bs --define "_topdir $(abspath $(RPM_DIR))" avcfix.spec; \
	rpmlint avcfix.spec

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
