#!/usr/bin/env bash
# The container image, from Debian's packages alone (no base image is
# pulled): the project's own .deb and its runtime dependencies on a minimal
# Debian root (mmdebstrap), imported into podman as
# localhost/rendezvous:<version> and :latest. No compiler, no tests: what the
# host runs, and curl for probes. It runs as user rendezvous (uid 10001); its entrypoint is
# `rendezvous`; /var/lib/rendezvous is its (empty, cache) state directory.
#
#   scripts/image.sh build [--with python|torch]... [--deb FILE]...
#       build the image: the rendezvous package built from this tree (or the
#       .deb files given), with the Python or TorchScript plugins' package
#       too when asked (libpython with NumPy, libtorch, and their
#       dependencies: 221 MiB with python, ~890 MiB with torch, against
#       127 MiB); prints its name and size
#   scripts/image.sh podman ARGS...       podman with this project's
#                                         containers.conf (deploy/podman)
#
# Environment: RV_IMAGE_BUILD_DIR (the Release build of the .deb; default
# build-image beside the sources), RV_IMAGE_SUITE (bookworm), RV_IMAGE_TAG
# (the image's name; default localhost/rendezvous:<version>, also tagged
# :latest).
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${RV_IMAGE_BUILD_DIR:-$SRC/build-image}
SUITE=${RV_IMAGE_SUITE:-bookworm}
UID_=10001
export CONTAINERS_CONF=${CONTAINERS_CONF:-$SRC/deploy/podman/containers.conf}

die() {
  echo "image: $*" >&2
  exit 1
}

version() { sed -n 's/^project(rendezvous VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt"; }

# The .deb of this tree, installed under /usr (the configured example and
# unit name the install prefix).
build_deb() {
  cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
    -DBUILD_TESTING=OFF >"$BUILD.log" 2>&1 || die "cmake: $(tail -5 "$BUILD.log")"
  cmake --build "$BUILD" -j"$(nproc)" >>"$BUILD.log" 2>&1 || die "build: $(tail -5 "$BUILD.log")"
  rm -f "$BUILD"/pkg/*.deb
  (cd "$BUILD" && cpack -G DEB -B "$BUILD/pkg" >>"$BUILD.log" 2>&1) ||
    die "cpack: $(tail -5 "$BUILD.log")"
  local c
  ls "$BUILD"/pkg/rendezvous_*.deb
  for c in "$@"; do ls "$BUILD"/pkg/rendezvous-"$c"_*.deb; done
}

# The package names the .debs depend on (the first of alternatives), but
# theirs.
depends() {
  local d ours
  ours=$(for d; do dpkg-deb -f "$d" Package; done)
  for d; do dpkg-deb -f "$d" Depends | tr ',' '\n'; done |
    sed -e 's/|.*//' -e 's/(.*)//' -e 's/[[:space:]]//g' | grep . | sort -u |
    grep -vxF "$ours" | paste -sd, -
}

build() {
  local debs=() with=() d
  while (($#)); do
    case $1 in
    --deb) debs+=("$2") && shift 2 ;;
    --with)
      [[ $2 == python || $2 == torch ]] || die "--with python or --with torch"
      with+=("$2") && shift 2
      ;;
    *) die "unknown option $1" ;;
    esac
  done
  for tool in mmdebstrap podman dpkg-deb; do
    command -v "$tool" >/dev/null || die "$tool is missing: run scripts/setup.sh"
  done
  ((${#debs[@]})) || mapfile -t debs < <(build_deb "${with[@]}")
  for d in "${debs[@]}"; do [ -f "$d" ] || die "no such package: $d"; done
  local deb=${debs[0]}
  local v tag bin
  v=$(version)
  # the host's path in the package (/usr/bin unless built with another prefix)
  bin=$(dpkg-deb -c "$deb" | awk '{print $NF}' | sed -n 's|^\.\(/.*/bin/rendezvous\)$|\1|p')
  [ -n "$bin" ] || die "$deb holds no bin/rendezvous"
  tag=${RV_IMAGE_TAG:-localhost/rendezvous:$v}
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
  mkdir "$WORK/debs"
  cp "${debs[@]}" "$WORK/debs/"
  # essential (dpkg, coreutils, ...) plus what the host links; documentation
  # and locales left out; the package installed by dpkg from inside
  # curl: for probes run inside the container (podman's kube play turns a
  # pod's httpGet probes into curl commands; HEALTHCHECKs too)
  mmdebstrap --variant=essential --include="$(depends "${debs[@]}"),curl" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/rendezvous/*' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --customize-hook="copy-in $WORK/debs /tmp" \
    --customize-hook='chroot "$1" sh -c "dpkg -i /tmp/debs/*.deb"' \
    --customize-hook='rm -rf "$1"/tmp/debs' \
    --customize-hook="echo 'rendezvous:x:$UID_:$UID_:Rendezvous:/var/lib/rendezvous:/usr/sbin/nologin' >>\"\$1\"/etc/passwd" \
    --customize-hook="echo 'rendezvous:x:$UID_:' >>\"\$1\"/etc/group" \
    --customize-hook="mkdir -p \"\$1\"/var/lib/rendezvous \"\$1\"/etc/rendezvous && chown $UID_:$UID_ \"\$1\"/var/lib/rendezvous" \
    --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*' \
    "$SUITE" "$WORK/rootfs.tar" >"$WORK/mmdebstrap.log" 2>&1 ||
    die "mmdebstrap: $(tail -5 "$WORK/mmdebstrap.log")"
  podman import \
    --change "ENTRYPOINT [\"$bin\"]" \
    --change 'CMD ["-c", "/etc/rendezvous/rendezvous.yaml"]' \
    --change "USER $UID_:$UID_" \
    --change 'WORKDIR /var/lib/rendezvous' \
    --change 'STOPSIGNAL SIGTERM' \
    --change "LABEL org.opencontainers.image.title=rendezvous org.opencontainers.image.version=$v" \
    "$WORK/rootfs.tar" "$tag" >/dev/null 2>"$WORK/import.log" || die "podman import: $(tail -3 "$WORK/import.log")"
  [ -n "${RV_IMAGE_TAG:-}" ] || podman tag "$tag" localhost/rendezvous:latest
  local size
  size=$(podman image inspect --format '{{.Size}}' "$tag")
  echo "image=$tag"
  echo "size_bytes=$size"
  echo "image: $tag, $((size / 1024 / 1024)) MiB (from $(for d in "${debs[@]}"; do basename "$d"; done | paste -sd' ' -))" >&2
}

case ${1:-} in
build) shift && build "$@" ;;
podman) shift && exec podman "$@" ;;
*)
  sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
  exit 2
  ;;
esac
