#!/usr/bin/env bash
# Builds localhost/claude-metrics-exporter-base: the runtime stage's base image assembled offline from Debian's
# own packages (libc6, libstdc++6, libgcc-s1: what distroless/cc-debian12 holds for a C++ binary), for machines
# that cannot pull gcr.io/distroless/cc-debian12. The image is then built by podman from the same Dockerfile.
#   scripts/runtime-base.sh [TAG]
set -euo pipefail
tag=${1:-localhost/claude-metrics-exporter-base:bookworm}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/root" "$work/debs"
(cd "$work/debs" && apt-get download -qq libc6 libstdc++6 libgcc-s1 >/dev/null 2>&1)
for package in "$work"/debs/*.deb; do dpkg-deb -x "$package" "$work/root"; done
# What distroless provides besides the libraries: the nonroot user, a writable /tmp, an empty /etc/hosts.
mkdir -p "$work/root/etc" "$work/root/tmp" "$work/root/home/nonroot"
chmod 1777 "$work/root/tmp"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' \
  >"$work/root/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$work/root/etc/group"
: >"$work/root/etc/hosts"
tar -C "$work/root" -c . | podman import --quiet - "$tag" >/dev/null
echo "$tag"
