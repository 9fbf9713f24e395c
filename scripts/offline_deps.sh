#!/usr/bin/env bash
# Builds the project on a machine that cannot install Debian packages (no
# package mirror, no root): a lent GPU machine, a cluster node. On a Debian
# machine that has them (scripts/install_deps.sh), `pack` copies the installed
# files of the build dependencies into one archive; on the other machine,
# `build` unpacks it under .offline/deps and builds into build/ against it
# (with CUDA when nvcc is there). The programs find the unpacked libraries
# through their RPATH, so they run as they are.
#
#   scripts/offline_deps.sh pack            # here: writes .offline/deps.tar.xz
#   scripts/offline_deps.sh build           # there: unpack, configure, build
#
# The other machine needs cmake, make, g++ with OpenMP (libgomp) and glibc at
# least as new as this machine's.
set -euo pipefail
cd "$(dirname "$0")/.."

ARCHIVE=.offline/deps.tar.xz
PREFIX=$PWD/.offline/deps
# The -dev packages and the runtime libraries they link to; the compilers,
# libgomp and glibc come from the other machine.
PACKAGES=(
  libopenblas-openmp-dev libopenblas0-openmp libgfortran5 libquadmath0
  libgtest-dev libbenchmark-dev libbenchmark1debian libcli11-dev nlohmann-json3-dev libstb-dev
  libstb0 zlib1g-dev zlib1g
)
# Installed files not needed to build or run: docs, static BLAS, LAPACK.
SKIP='/usr/share/(doc|man|lintian)/|/openblas-openmp/(lib.*\.a|liblapack.*)$'

die() {
  echo "offline_deps: error: $*" >&2
  exit 1
}

# The installed files (and symlinks to files) of the packages, relative to /.
package_files() {
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
      die "$p is not installed here (run scripts/install_deps.sh first)"
    dpkg -L "$p" | grep -Ev "$SKIP" | while read -r f; do
      if [ ! -d "$f" ] && { [ -f "$f" ] || [ -L "$f" ]; }; then echo "${f#/}"; fi
    done
  done
}

pack() {
  local files
  files=$(package_files)
  mkdir -p "$(dirname "$ARCHIVE")"
  # Files under /lib (merged into /usr/lib on Debian) go to usr/lib, and the
  # one absolute symlink (libz.so) becomes relative, as its neighbours.
  tar -C / --transform 's,^lib/,usr/lib/,' --transform 's,^/lib/x86_64-linux-gnu/,,s' \
    -cJf "$ARCHIVE.tmp" $files
  mv "$ARCHIVE.tmp" "$ARCHIVE"
  echo "[offline] ${#PACKAGES[@]} packages in $ARCHIVE ($(du -h "$ARCHIVE" | cut -f1))"
}

build() {
  [ -f "$ARCHIVE" ] || die "$ARCHIVE is missing (make it with '$0 pack' on a Debian machine)"
  if [ ! -f "$PREFIX/.unpacked" ] || [ "$ARCHIVE" -nt "$PREFIX/.unpacked" ]; then
    rm -rf "$PREFIX"
    mkdir -p "$PREFIX"
    tar -C "$PREFIX" -xJf "$ARCHIVE"
    touch "$PREFIX/.unpacked"
  fi
  local usr=$PREFIX/usr lib=$PREFIX/usr/lib/x86_64-linux-gnu
  # DT_RPATH rather than RUNPATH: it also serves the libraries' own
  # dependencies (OpenBLAS needs libgfortran, in the unpacked lib folder).
  CMAKE_ARGS="-DCMAKE_PREFIX_PATH=$usr;$lib/cmake;$usr/share/cmake \
-DOPENBLAS_OPENMP_LIB=$lib/openblas-openmp/libopenblas.so.0 \
-DCBLAS_INCLUDE_DIR=$usr/include/x86_64-linux-gnu/openblas-openmp \
-DSTB_LIBRARY=$lib/libstb.so -DCMAKE_CXX_FLAGS=-isystem$usr/include \
-DCMAKE_EXE_LINKER_FLAGS=-Wl,--disable-new-dtags,-rpath,$lib ${CMAKE_ARGS:-}" scripts/build.sh
}

case "${1:-}" in
  pack) pack ;;
  build) build ;;
  *) die "usage: $0 pack | build" ;;
esac
