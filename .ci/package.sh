#!/usr/bin/env bash
# The crate as crates.io would get it: `cargo package` builds it from its own
# tarball, then the one-command install of README's quick start runs from
# that tarball and the installed binary runs the seed's flapping scenario.
# This is also the install step of docs/ci.md's recipe.
#
# Needs: cargo. Leaves nothing installed outside target/.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
CRATE="target/package/mqtt-sim-$VERSION.crate"

echo "== cargo package"
# Verifies that the packaged sources build on their own (no file of the
# repository outside `include` is needed). CI checkouts are clean, so no
# --allow-dirty.
cargo package --locked

echo "== cargo install from the packaged crate"
# The installed binary and the suite it writes out stay under target/ for
# the live stage that follows docs/ci.md's recipe with them.
root=target/package/installed
suite=target/package/suite
rm -rf "$root" "$suite"
unpacked=$(mktemp -d)
trap 'rm -rf "$unpacked"' EXIT
tar -xzf "$CRATE" -C "$unpacked"
# The same command a user runs (`cargo install mqtt-sim`), pointed at the
# tarball instead of crates.io. --debug and the shared target directory
# reuse what `cargo package` just built; a user gets --release.
CARGO_TARGET_DIR=target cargo install --locked --debug \
    --path "$unpacked/mqtt-sim-$VERSION" --root "$root"

"$root/bin/mqtt-sim" --version
"$root/bin/mqtt-sim" scenarios "$suite"
"$root/bin/mqtt-sim" run "$suite/tutorial/duplicate-client-id.yaml" --summary
echo "package: the crate builds from its tarball, installs, writes out its suite and runs the flapping scenario"
