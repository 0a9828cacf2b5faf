#!/usr/bin/env bash
# Installs attnc into a scratch prefix, then configures, builds and runs
# examples/embed against it with find_package(attnc): what an embedder does.
# usage: run-embed.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 source=$2
work="$build/embed-test"
rm -rf "$work"
cmake --install "$build" --prefix "$work/prefix" > "$work.install.log" 2>&1 || { cat "$work.install.log"; exit 1; }
cmake -S "$source/examples/embed" -B "$work/build" -G Ninja \
  -DCMAKE_PREFIX_PATH="$work/prefix" > "$work.configure.log" 2>&1 || { cat "$work.configure.log"; exit 1; }
ninja -C "$work/build" > "$work.build.log" 2>&1 || { cat "$work.build.log"; exit 1; }
# Only the installed library may be used: no path into the build tree.
if ldd "$work/build/embed" | grep -q "$build/runtime"; then
  echo "embed links the build tree's libattnc, not the installed one"; exit 1
fi
"$work/build/embed"
