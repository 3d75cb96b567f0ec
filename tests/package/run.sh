#!/usr/bin/env bash
# kaa as a package, seen from outside: builds tests/package/main.cpp in an outside project and
# runs it. Called by ctest (tests/package/CMakeLists.txt, only with KAA_PACKAGE_TESTS=ON).
#
# usage: run.sh MODE KAA_SOURCE_DIR KAA_BUILD_DIR WORK_DIR
#   subdir        add_subdirectory(<kaa source>) in tests/package/subdir (static library);
#                 also checks that kaa's own tests are not in the consumer's ctest
#   fetchcontent  FetchContent_Declare(kaa SOURCE_DIR <kaa source>), BUILD_SHARED_LIBS=ON
#   install       cmake --install KAA_BUILD_DIR into WORK_DIR/prefix, then find_package(kaa 0.2)
#                 and a plain compiler call with `pkg-config --cflags --libs kaa`
#   install-shared  a library-only shared build of kaa (BUILD_SHARED_LIBS=ON) installed into
#                 WORK_DIR/prefix, then the same two consumers
# env: CMAKE (cmake), CTEST (ctest), CXX (c++), PKG_CONFIG (pkg-config), JOBS (2),
#      KAA_SONAME (the shared library's expected soname, e.g. libkaa.so.0.2)
set -euo pipefail

mode=$1 src=$2 kaa_build=$3 work=$4
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CMAKE=${CMAKE:-cmake}
CTEST=${CTEST:-ctest}
CXX=${CXX:-c++}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
JOBS=${JOBS:-2}

step() { echo "== $*"; }
run_consumer() {  # run_consumer BINARY: it must print "kaa consumer: 42" and exit 0
    step "run $1"
    local out
    out=$(timeout 60 "$1")
    echo "$out"
    [[ $out == "kaa consumer: 42" ]] || { echo "run.sh: unexpected output from $1" >&2; exit 1; }
}
# configure_and_build SOURCE BUILD [cmake args...]
configure_and_build() {
    local s=$1 b=$2
    shift 2
    step "configure $s"
    "$CMAKE" -S "$s" -B "$b" -DCMAKE_CXX_COMPILER="$CXX" "$@"
    step "build $b"
    "$CMAKE" --build "$b" -j"$JOBS"
}
# consumers PREFIX: the find_package and the pkg-config consumers of kaa installed in PREFIX
consumers() {
    local prefix=$1 libdir
    configure_and_build "$here/find_package" "$work/find_package" -DCMAKE_PREFIX_PATH="$prefix"
    run_consumer "$work/find_package/consumer"

    libdir=$(dirname "$(find "$prefix" -name kaa.pc -path '*/pkgconfig/*' | head -n 1)")
    step "pkg-config: PKG_CONFIG_PATH=$libdir"
    local flags
    flags=$(PKG_CONFIG_PATH="$libdir" "$PKG_CONFIG" --cflags --libs kaa)
    echo "pkg-config --cflags --libs kaa: $flags"
    # shellcheck disable=SC2086  # the flags are meant to be split
    (set -x; "$CXX" -std=c++20 "$here/main.cpp" $flags -o "$work/pkg_config_consumer")
    # A shared libkaa in a private prefix is found through LD_LIBRARY_PATH (as after an
    # install without ldconfig); a static one needs nothing.
    LD_LIBRARY_PATH="$(dirname "$libdir")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
        run_consumer "$work/pkg_config_consumer"
}

rm -rf "$work"
mkdir -p "$work"
case $mode in
subdir)
    configure_and_build "$here/subdir" "$work/build" -DKAA_SOURCE_DIR="$src"
    run_consumer "$work/build/consumer"
    step "the consumer's ctest lists only its own test"
    listed=$(cd "$work/build" && "$CTEST" -N | sed -n 's/^ *Test *#[0-9]*: //p')
    echo "$listed"
    [[ $listed == consumer ]] || { echo "run.sh: kaa's tests leaked into the consumer's ctest" >&2; exit 1; }
    ;;
fetchcontent)
    configure_and_build "$here/fetchcontent" "$work/build" -DKAA_SOURCE_DIR="$src" \
        -DBUILD_SHARED_LIBS=ON
    run_consumer "$work/build/consumer"
    ;;
install)
    step "cmake --install $kaa_build --prefix $work/prefix"
    "$CMAKE" --install "$kaa_build" --prefix "$work/prefix"
    consumers "$work/prefix"
    ;;
install-shared)
    # Build type None: no optimization flags, the quickest build of the library.
    configure_and_build "$src" "$work/kaa" -DBUILD_SHARED_LIBS=ON -DCMAKE_BUILD_TYPE=None \
        -DKAA_BUILD_TESTS=OFF -DKAA_BUILD_EXAMPLES=OFF
    step "cmake --install $work/kaa --prefix $work/prefix"
    "$CMAKE" --install "$work/kaa" --prefix "$work/prefix"
    step "the shared library and its soname links"
    (cd "$work/prefix" && find . -name 'libkaa*' | sort && ls -l lib*/libkaa*)
    soname=$(find "$work/prefix" -name 'libkaa.so.*.*.*' -exec objdump -p {} \; | sed -n 's/^ *SONAME *//p')
    echo "SONAME $soname"
    [[ $soname == "${KAA_SONAME:?}" ]] || { echo "run.sh: SONAME '$soname', expected '$KAA_SONAME'" >&2; exit 1; }
    consumers "$work/prefix"
    ;;
*)
    echo "run.sh: unknown mode '$mode'" >&2
    exit 2
    ;;
esac
step "ok: $mode"
