#!/usr/bin/env bash
# Builds the OpenTofu CLI that the provider's acceptance tests drive, once,
# and caches it in ~/.cache/keyport/tofu-v1.10.6/tofu (a rerun finds it and
# returns at once). `go install` refuses OpenTofu because its go.mod has
# replace directives, so the module source is fetched from the Go module proxy,
# copied out of the read-only module cache and built in place.
# Prints the binary's path as its last line.
set -euo pipefail

version=${TOFU_VERSION:-v1.10.6}
cache_dir="${KEYPORT_CACHE_DIR:-$HOME/.cache/keyport}/tofu-$version"
bin="$cache_dir/tofu"

if [ -x "$bin" ] && "$bin" version >/dev/null 2>&1; then
  echo "$bin"
  exit 0
fi
command -v go >/dev/null || { echo "setup-tofu: Go is needed to build OpenTofu (https://go.dev/dl/)" >&2; exit 1; }

mkdir -p "$cache_dir"
work=$(mktemp -d "$cache_dir/build.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

echo "setup-tofu: downloading github.com/opentofu/opentofu@$version from the Go module proxy" >&2
dir=$(cd "$work" && go mod download -json "github.com/opentofu/opentofu@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
[ -n "$dir" ] && [ -d "$dir" ] || { echo "setup-tofu: go mod download gave no module directory" >&2; exit 1; }

echo "setup-tofu: copying the module source out of the module cache" >&2
cp -r "$dir" "$work/src"
chmod -R u+w "$work/src"

echo "setup-tofu: building ./cmd/tofu (a few minutes on 2 cores)" >&2
start=$SECONDS
(cd "$work/src" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/opentofu/opentofu/version.dev=no" -o "$work/tofu" ./cmd/tofu)
mv "$work/tofu" "$bin"
echo "setup-tofu: built in $((SECONDS - start))s: $("$bin" version | head -1)" >&2
echo "$bin"
