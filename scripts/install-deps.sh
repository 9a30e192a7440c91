#!/usr/bin/env bash
# Install the Debian tools the test suite and fixtures need, when missing.
set -euo pipefail
need=()
for pair in debootstrap:debootstrap skopeo:skopeo umoci:umoci mkfs.ext4:e2fsprogs sgdisk:gdisk \
            sfdisk:fdisk qemu-img:qemu-utils zstd:zstd xz:xz-utils python3:python3 jq:jq \
                        /usr/bin/time:time getfattr:attr rpm:rpm dpkg:dpkg readelf:binutils gcc:gcc \
            musl-gcc:musl-tools setfattr:attr mkfifo:coreutils setfacl:acl getfacl:acl \
            prlimit:util-linux timeout:coreutils bzip2:bzip2 debugfs:e2fsprogs e2fsck:e2fsprogs \
            tar:tar oscap:openscap-scanner oscap-chroot:openscap-utils \
            /usr/share/xml/scap/ssg/content/ssg-debian11-ds.xml:ssg-debian ssh-keygen:openssh-client \
            mkfs.vfat:dosfstools mkfs.xfs:xfsprogs mkfs.btrfs:btrfs-progs blkid:util-linux \
            /usr/share/distro-info/debian.csv:distro-info-data setcap:libcap2-bin xfs_db:xfsprogs \
            pvcreate:lvm2 mksquashfs:squashfs-tools xorriso:xorriso npm:npm go:golang-go \
            unzip:unzip zip:zip java:default-jre-headless \
            /usr/share/java/maven3-artifact.jar:libmaven3-core-java ruby:ruby php:php-cli \
            /usr/share/php/Composer/Semver/VersionParser.php:php-composer-semver \
            /usr/lib/python3/dist-packages/debian/copyright.py:python3-debian; do
  cmd=${pair%%:*}; pkg=${pair##*:}
  command -v "$cmd" >/dev/null 2>&1 || [ -e "$cmd" ] || need+=("$pkg")
done
# Static test programs need the C library's headers and archives.
[ -e /usr/include/stdio.h ] && [ -e "/usr/lib/$(uname -m)-linux-gnu/libc.a" ] || need+=(libc6-dev)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Python: jsonschema validates the SBOMs against the official schemas.
python3 -c 'import jsonschema, referencing' 2>/dev/null || python3 -m pip install -q 'jsonschema>=4.18'
command -v sbomcheck >/dev/null 2>&1 || python3 -m pip install -q 'ntia-conformance-checker>=6'
# Rust binaries with their dependency list embedded (the application-package tests), and its
# reader as the oracle.
for tool in cargo-auditable:cargo-auditable rust-audit-info:rust-audit-info; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || cargo install -q --locked "${tool##*:}"
done
