#!/bin/sh
# Regenerates the golden MessagePack vectors from the real rmp-serde (Debian's librust-*-dev
# crates, offline: apt-get install librust-rmp-serde-dev librust-serde-derive-dev
# librust-serde-bytes-dev). Needs cargo; `npm test` only reads the committed output.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
cat > "$home/config.toml" <<'TOML'
[source.crates-io]
replace-with = "debian"
[source.debian]
directory = "/usr/share/cargo/registry"
[net]
offline = true
TOML
CARGO_HOME="$home" CARGO_TARGET_DIR="$home/target" cargo run --quiet --manifest-path "$here/Cargo.toml" \
  > "$here/../../src/net/shard/golden/rmp-serde.json"
echo "wrote src/net/shard/golden/rmp-serde.json"
