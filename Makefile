# crio-userns: patched CRI-O, its OCI hook and their packaging.
# `make demo` and `make test` are the two commands README promises.

SHELL := /bin/bash
GO ?= go
GOFMT ?= $(dir $(shell command -v $(GO)))gofmt
OUTPUT := _output

# The supported CRI-O versions are the release directories under patches/
# (crio-build -list), the default is the newest (crio-build -default): one
# rule, in internal/crio. $(OUTPUT)/versions.mk caches the answer; make
# remakes it (and restarts) when a series directory comes or goes.
-include $(OUTPUT)/versions.mk
$(OUTPUT)/versions.mk: patches internal/crio/series.go internal/crio/release.go
	@mkdir -p $(@D)
	@set -e; list=$$($(GO) run ./internal/cmd/crio-build -list); def=$$($(GO) run ./internal/cmd/crio-build -default); \
	  printf 'CRIO_VERSIONS := %s\nCRIO_DEFAULT_VERSION := %s\n' "$$(echo $$list)" "$$def" > $@.tmp; mv $@.tmp $@
CRIO_VERSION ?= $(CRIO_DEFAULT_VERSION)
PRISTINE ?=
# A CRI-O git checkout (e.g. of main) for patches/main, the upstream pull
# requests: series, crio-lint and crio-unit then cover that series too,
# applied to the checkout's HEAD in a scratch clone (the checkout is only read).
CRIO_SRC ?=
CRIO_SRC_FLAG := $(if $(CRIO_SRC),-crio-src $(CRIO_SRC))
BIN := $(OUTPUT)/bin
CRIO_USERNS_STATE ?= $(OUTPUT)/node
export CRIO_USERNS_STATE

# Where `make crio` puts the binaries of the selected flavour.
CRIO_FLAVOUR := $(CRIO_VERSION)$(if $(PRISTINE),-pristine)
CRIO_DIR := $(OUTPUT)/crio/$(CRIO_FLAVOUR)/bin
CRIO_PRISTINE_DIR := $(OUTPUT)/crio/$(CRIO_VERSION)-pristine/bin
CRIO_PATCHED_DIR := $(OUTPUT)/crio/$(CRIO_VERSION)/bin

TOOLS := crio-build crio-node podrun demo crio-userns-hook crio-userns-machineconfig crio-rpm rpm-check vm-node
E2E_TIMEOUT ?= 40m
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
DESTDIR ?=
PREFIX ?= /usr
FUZZ_TIME ?= 150000x
# package:FuzzTarget for every parser the hook and the tools share.
FUZZ_TARGETS := internal/idmap:FuzzParseProcMap internal/idmap:FuzzValidate internal/idmap:FuzzParseSubID \
	internal/idmap:FuzzParseRange internal/policy:FuzzParse internal/policy:FuzzDecodeTOML internal/accounts:FuzzParsePasswd \
	internal/accounts:FuzzParseGroup hook/internal/bundle:FuzzReadState hook/internal/bundle:FuzzParseSpec \
	hook/internal/bundle:FuzzDecodeNarrow hook/internal/bundle:FuzzIDMappings \
	hook/internal/registry:FuzzDecodeEntry hook/internal/registry:FuzzParseIndex

.PHONY: all tools crio crio-both crio-all versions node-up node-down vm-node-up vm-node-down demo test test-prepare test-host unit unit-deps fuzz series series-export crio-lint crio-unit e2e e2e-vm critest bench install deps clean help

all: tools

help:
	@echo "make demo        build pristine and patched CRI-O, run the field reports on both, print a table"
	@echo "make test        unit tests, patch series application, e2e suite on real nodes of every version"
	@echo "make crio        build CRI-O $(CRIO_VERSION) with patches/$(CRIO_VERSION) (PRISTINE=1: without)"
	@echo "                 CRIO_VERSION=one of: $(CRIO_VERSIONS) (default $(CRIO_DEFAULT_VERSION))"
	@echo "make node-up     start a throwaway CRI-O node in $(CRIO_USERNS_STATE) (make node-down stops it)"
	@echo "make vm-node-up  start the guest node (QEMU, Debian 13, cgroup v2, systemd, crun); socket $(VM_STATE)/crio.sock"
	@echo "make bench       benchmarks: patched vs pristine CRI-O, in one run"
	@echo "make series CRIO_SRC=DIR   also apply patches/main to the CRI-O checkout DIR (scratch clone; DIR is only read)"

tools: $(addprefix $(BIN)/,$(TOOLS))

$(BIN)/crio-build: FORCE
	$(GO) build -o $@ ./internal/cmd/crio-build
$(BIN)/crio-node: FORCE
	$(GO) build -o $@ ./test/cmd/crio-node
$(BIN)/podrun: FORCE
	$(GO) build -o $@ ./test/cmd/podrun
$(BIN)/vm-node: FORCE
	$(GO) build -o $@ ./test/cmd/vm-node
$(BIN)/demo: FORCE
	$(GO) build -o $@ ./test/cmd/demo
# Static: the hook runs in the runtime's namespace on any node image.
$(BIN)/crio-userns-hook: FORCE
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $@ ./hook/cmd/crio-userns-hook
FORCE:

# Debian packages the build and the node need (apt-get update first, once).
deps:
	@$(GO) run ./test/cmd/crio-node deps

crio: $(BIN)/crio-build deps
	$(BIN)/crio-build -version $(CRIO_VERSION) $(if $(PRISTINE),-pristine) $(CRIO_SRC_FLAG)

crio-both: $(BIN)/crio-build deps
	$(BIN)/crio-build -version $(CRIO_VERSION) -pristine
	$(BIN)/crio-build -version $(CRIO_VERSION)

# The versions make test, e2e and crio-unit cover: all of them, or the one
# CRIO_VERSION names on the command line or in the environment.
TEST_VERSIONS ?= $(if $(filter environment command line,$(origin CRIO_VERSION)),$(CRIO_VERSION),$(CRIO_VERSIONS))

# What the e2e suite runs: every supported version patched, and pristine
# CRI-O of the default version, the baseline that shows the defects.
crio-all: $(BIN)/crio-build deps
	$(if $(filter $(CRIO_DEFAULT_VERSION),$(TEST_VERSIONS)),$(BIN)/crio-build -version $(CRIO_DEFAULT_VERSION) -pristine)
	@set -e; for v in $(TEST_VERSIONS); do $(BIN)/crio-build -version $$v; done

versions:
	@echo "supported: $(CRIO_VERSIONS)"
	@echo "default:   $(CRIO_DEFAULT_VERSION)"

node-up: crio $(BIN)/crio-node $(BIN)/podrun
	$(BIN)/crio-node up -state $(CRIO_USERNS_STATE) -crio-dir $(CRIO_DIR)

node-down: $(BIN)/crio-node
	$(BIN)/crio-node down -state $(CRIO_USERNS_STATE)

# The guest node (test/vm): CRI-O as crio.service in a QEMU guest built from
# Debian 13 packages (cached in $(VM_IMAGES), rebuilt when its inputs change).
VM_STATE ?= $(OUTPUT)/vm-node
VM_IMAGES ?= $(OUTPUT)/vm
vm-node-up: crio $(BIN)/vm-node $(BIN)/podrun
	$(BIN)/vm-node up -state $(VM_STATE) -image-cache $(VM_IMAGES) -crio-dir $(CRIO_DIR)

vm-node-down: $(BIN)/vm-node
	$(BIN)/vm-node down -state $(VM_STATE)

demo: crio-both tools
	$(BIN)/demo -crio-version $(CRIO_VERSION) -pristine $(CRIO_PRISTINE_DIR) -patched $(CRIO_PATCHED_DIR) -guest -image-cache $(VM_IMAGES)

# make test: first everything both halves need is built and installed (apt
# and the builds run once, one at a time); then the guest node's suite runs
# beside the host's targets. QEMU's single-threaded TCG keeps one core busy
# for most of the run and the host's targets take the other; they run one
# after the other (-j1), since e2e and rpm-check both start CRI-O on the host.
# Each half's output is printed as it ends (-Otarget).
test: test-prepare
	$(MAKE) --no-print-directory -j2 -Otarget test-host e2e-vm

test-prepare: crio-all crio-both tools deps unit-deps rpm-deps $(BIN)/vm-node
	$(BIN)/vm-node image -image-cache $(VM_IMAGES)

test-host:
	$(MAKE) --no-print-directory -j1 unit fuzz series crio-lint crio-unit e2e rpm-check

# systemd-analyze verifies the override unit in contrib/machineconfig's tests.
unit-deps:
	@command -v systemd-analyze >/dev/null || { \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends systemd || \
	  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends systemd; }; }

unit: unit-deps
	@unformatted=$$($(GOFMT) -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt -l lists:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /test/e2e)

# Each fuzz target runs FUZZ_TIME inputs (a count, not a duration: a timed run
# can end in a spurious "context deadline exceeded"); a crash fails the build and leaves its
# input in testdata/fuzz/ to become a regression case.
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
	  echo "fuzz $$t ($(FUZZ_TIME))"; \
	  $(GO) test ./$${t%%:*} -run '^$$' -fuzz "^$${t##*:}$$" -fuzztime $(FUZZ_TIME); \
	done

# Every release series onto its pristine release; patches/main onto the HEAD
# of CRIO_SRC, or a line saying that it was not checked.
series: $(BIN)/crio-build
	$(BIN)/crio-build -check-series $(CRIO_SRC_FLAG)

# The series source tree's commits back to patches/$(CRIO_VERSION), signed off
# with your git config identity (patches/README.md).
series-export: $(BIN)/crio-build
	$(BIN)/crio-build -export -version $(CRIO_VERSION)

# CRI-O's own golangci-lint configuration on the lines each series adds
# (golangci-lint from the Go module proxy, installed once into _output/tools).
crio-lint: $(BIN)/crio-build deps
	@set -e; for v in $(TEST_VERSIONS); do $(BIN)/crio-build -lint -version $$v; done
	$(if $(CRIO_SRC),$(BIN)/crio-build -lint -version main $(CRIO_SRC_FLAG))

# CRI-O's own tests of the packages the series touches, on the pristine and
# the patched tree: nothing that passes upstream may fail with the series.
crio-unit: $(BIN)/crio-build deps
	@set -e; for v in $(TEST_VERSIONS); do $(BIN)/crio-build -unit-tests -version $$v; done
	$(if $(CRIO_SRC),$(BIN)/crio-build -unit-tests -version main $(CRIO_SRC_FLAG))

# The e2e suite once per version (CRIO_VERSION=V: that one only). Pristine
# CRI-O runs on the default version only; the suite skips, and says so, the
# baseline tests on the others.
# Each version keeps its nodes, images and hook state in $(OUTPUT)/e2e/VERSION.
# The versions run one after the other: two CRI-O daemons allocate auto
# user-namespace ranges from the same /etc/subuid without seeing each other's
# pods, so side by side their pods could share host IDs.
e2e: crio-all tools
	@set -e; for v in $(TEST_VERSIONS); do $(MAKE) --no-print-directory e2e-version-$$v; done

e2e-version-%: FORCE
	@echo "== e2e: CRI-O $*"
	CRIO_VERSION=$* CRIO_USERNS_E2E_DIR=$(abspath $(OUTPUT)/e2e/$*) $(GO) test -count=1 -v -timeout $(E2E_TIMEOUT) ./test/e2e/

E2E_VM_TIMEOUT ?= 150m
# The whole e2e suite also runs on the guest node (cgroup v2, systemd cgroup
# manager, crun; runc where the runtimes differ), CRI-O's test/ctr_userns.bats
# included. E2E_VM_RUN=REGEXP narrows it, E2E_VM_SKIP=REGEXP leaves tests out:
# by default critest, which takes about 20 minutes per CRI-O build under TCG
# (make critest runs it; its result is reused while its inputs are unchanged),
# and, unless E2E_VM_RUN names it, TestMainSeriesBats: CRI-O main's bats with
# and without patches/main (about an hour), on request only, as it needs
# builds of a CRI-O checkout (it skips, saying so, without them): make crio
# CRIO_VERSION=main CRIO_SRC=DIR, the same with PRISTINE=1, then
# make e2e-vm E2E_VM_RUN=MainSeriesBats.
E2E_VM_RUN ?= .
E2E_VM_SKIP ?= ^Test(Critest$(if $(findstring MainSeriesBats,$(E2E_VM_RUN)),,|MainSeriesBats))
e2e-vm: crio-both tools
	CRIO_USERNS_E2E_NODE=guest CRIO_USERNS_E2E_DIR=$(abspath $(OUTPUT)/e2e-vm) CRIO_USERNS_VM_IMAGES=$(abspath $(VM_IMAGES)) \
	  CRIO_PRISTINE_DIR=$(abspath $(CRIO_PRISTINE_DIR)) CRIO_PATCHED_DIR=$(abspath $(CRIO_PATCHED_DIR)) \
	  $(GO) test -count=1 -v -timeout $(E2E_VM_TIMEOUT) -run '$(E2E_VM_RUN)' $(if $(E2E_VM_SKIP),-skip '$(E2E_VM_SKIP)') ./test/e2e/
	@cat $(OUTPUT)/e2e-vm/critest/summary.txt $(OUTPUT)/e2e-vm/bats/summary.txt 2>/dev/null || true

# critest (SIG Node's CRI validation suite) against pristine and patched
# CRI-O on the guest node: the patched build must pass every spec the
# pristine build passes.
critest: crio-both tools
	$(MAKE) --no-print-directory e2e-vm E2E_VM_RUN='^TestCritestPatchedPassesWhatPristinePasses$$' E2E_VM_SKIP=

bench: crio-both tools
	CRIO_VERSION=$(CRIO_VERSION) CRIO_PRISTINE_DIR=$(abspath $(CRIO_PRISTINE_DIR)) CRIO_PATCHED_DIR=$(abspath $(CRIO_PATCHED_DIR)) \
	  $(GO) test -count=1 -run '^$$' -bench . -benchtime 60x -timeout 30m ./test/e2e/
	# The hook as installed against a no-op static binary, same run, at 0, 100
	# and 250 registered pods; registry on tmpfs as on a node.
	CRIO_USERNS_BENCH_HOOK=$(abspath $(BIN)/crio-userns-hook) CRIO_USERNS_BENCH_RUNDIR=/dev/shm \
	  $(GO) test -count=1 -run '^$$' -bench ExecCompare -benchtime 300x -timeout 20m ./hook/cmd/crio-userns-hook
	TMPDIR=/dev/shm $(GO) test -count=1 -run '^$$' -bench . ./hook/internal/app ./hook/internal/registry

# The crio-userns-hook entries of contrib/files.manifest, installed as the RPMs install them.
install: $(BIN)/crio-userns-hook
	PREFIX=$(PREFIX) sh rpm/install-manifest.sh "$(DESTDIR)" crio-userns-hook $(BIN) >/dev/null

clean: node-down
	rm -rf $(OUTPUT)

# The OpenShift delivery generator (contrib/machineconfig) and its rendered
# worker examples, which a unit test keeps equal to the generator's output.
MACHINECONFIG_EXAMPLE_SHA256 := 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
MACHINECONFIG_OVERRIDE_ARGS := --mode override --role worker \
	--cri-o-rpm https://example.com/cri-o-1.36.3-990.userns.1.el9.x86_64.rpm --cri-o-sha256 $(MACHINECONFIG_EXAMPLE_SHA256)
MACHINECONFIG_IMAGE_ARGS := --mode image --role worker \
	--cri-o-rpm cri-o-1.36.3-990.userns.1.el9.x86_64.rpm --cri-o-sha256 $(MACHINECONFIG_EXAMPLE_SHA256) \
	--rpm-image quay.io/example/crio-userns-rpms@sha256:$(MACHINECONFIG_EXAMPLE_SHA256) --push-secret builder-dockercfg-example
.PHONY: machineconfig
machineconfig: $(BIN)/crio-userns-machineconfig
	$(BIN)/crio-userns-machineconfig $(MACHINECONFIG_OVERRIDE_ARGS) -o contrib/examples/override-worker.yaml
	rm -rf contrib/examples/image-worker
	$(BIN)/crio-userns-machineconfig $(MACHINECONFIG_IMAGE_ARGS) -o contrib/examples/image-worker
$(BIN)/crio-userns-machineconfig: FORCE
	$(GO) build -o $@ ./contrib/machineconfig/cmd/crio-userns-machineconfig

# RPMs (rpm/, internal/rpm; see rpm/README.md). `make rpm` stages the sources
# (CRI-O from the module proxy, go mod vendor, the hook's sources), makes the
# SRPMs and rebuilds them offline into $(RPM_OUT); `make rpm-check` builds them
# from scratch and lints, lists, installs and runs them, up to one e2e scenario.
RPM_OUT ?= $(OUTPUT)/rpm
RPM_DIST ?= .el9
RPM_RELEASE ?= 1
HOOK_RPM_VERSION ?= 0.1.0
HOOK_RPM_RELEASE ?= 1
RPM_E2E_DIR ?= $(OUTPUT)/e2e-rpm
RPM_UPDATE_EXPECTED ?=
RPM_FLAGS = -crio-version $(CRIO_VERSION) -dist "$(RPM_DIST)" -release $(RPM_RELEASE) \
	-hook-version $(HOOK_RPM_VERSION) -hook-release $(HOOK_RPM_RELEASE) -out $(RPM_OUT)
# Debian packages rpmbuild and the checks use (pinns: libc6-dev's libc.a;
# busybox-static: the install root's /bin/sh for the scriptlets).
RPM_DEBS := rpm rpmlint go-md2man libgpgme-dev libseccomp-dev libc6-dev gcc make patch busybox-static util-linux

.PHONY: rpm rpm-check rpm-deps
$(BIN)/crio-rpm: FORCE
	$(GO) build -o $@ ./internal/rpm/cmd/crio-rpm
$(BIN)/rpm-check: FORCE
	$(GO) build -o $@ ./test/cmd/rpm-check

rpm-deps:
	@missing=$$(for p in $(RPM_DEBS); do dpkg-query -W -f '$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "rpm-deps: installing" $$missing; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing || \
	  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; }; \
	fi

rpm: $(BIN)/crio-rpm rpm-deps
	$(BIN)/crio-rpm build $(RPM_FLAGS)

rpm-check: rpm deps $(BIN)/rpm-check
	$(BIN)/rpm-check $(RPM_FLAGS) -e2e-dir $(RPM_E2E_DIR) $(if $(RPM_UPDATE_EXPECTED),-update-expected)
