#!/usr/bin/env bash
# Build the real images the tests read, once, into a cache directory (default
# /var/cache/imagewise-fixtures). Every artifact is built under a temporary name and renamed when
# complete, so an interrupted run never leaves a half-made fixture behind.
#
#   bookworm-rootfs/           debootstrap --variant=minbase bookworm (the source of truth)
#   bookworm.tar, .tar.zst     GNU tar of it (numeric owners, xattrs), and zstd of that
#   bookworm-oci/              single-layer OCI layout (umoci), tag "latest"
#   bookworm-docker.tar        docker-archive of that (skopeo), tag bookworm:latest
#   bookworm-gpt.raw           GPT disk: 1: EFI System (empty), 2: ext4 made by mkfs.ext4 -d
#   bookworm-gpt.qcow2         qemu-img convert -c -O qcow2 of that disk
#   alpine-oci/, alpine-docker.tar   the shared Alpine minirootfs as OCI layout and docker-archive
#   layered-oci/, layered-unpacked/  3-layer image with whiteouts, opaque dir, file→dir, hardlink
#                                    across layers; and `umoci unpack` of it (the oracle)
#   kernel-rootfs/             Debian's linux-image-cloud kernel .deb unpacked with dpkg-deb -x
#                              over os-release: /boot/vmlinuz-*, /boot/config-*, /lib/modules/*
#   scratch.tar                one static binary (Debian's busybox-static) and nothing else
#   distroless-rootfs/         distroless-style: dpkg status.d, glibc, CA certs, no shell, no dpkg
#   sbom-schemas/              the official SPDX 2.3, SPDX 3.0.1 and CycloneDX 1.5 JSON schemas
#                              (from PyPI lib4sbom)
#   trixie-rootfs/, bullseye-rootfs/   debootstrap minbase of the next and the previous Debian
#   alpine-arm64-rootfs/       the shared aarch64 Alpine minirootfs, unpacked
#   bookworm-plus-rootfs/      bookworm-rootfs + curl, ca-certificates, less installed with apt-get
#                              inside a chroot (the "next version" of an image, for the store)
#   bullseye-server-rootfs/    bullseye-rootfs + systemd-sysv, openssh-server, sudo (packages' defaults)
#   bullseye-misconfigured-rootfs/  that server misconfigured in a chroot for lint: telnetd, passwd -d,
#                              a UID 0 account, chmod of shadow/passwd/host key, sshd_config and
#                              login.defs edited, sudoers NOPASSWD and !authenticate, a sysctl.d file,
#                              AWS credentials, .netrc, a private key, systemctl mask/enable
#   bullseye-vm.qcow2          the server + cloud-init, qemu-guest-agent, a cloud kernel and initramfs,
#                              console=ttyS0, host keys removed: ext4 (mkfs.ext4 -d) in qcow2
#   bullseye-server.qcow2      the server tree alone as such a disk (no cloud-init, no kernel)
#   js-locks/                  tree/srv/{yarn1,yarn4,pnpm}: projects with only a yarn.lock or
#                              pnpm-lock.yaml (made by yarn 1.22, yarn 4 and pnpm 9 from the npm
#                              registry), and oracle-*.json(l): each package manager's listing
#   app-rootfs/                bookworm-rootfs + Debian's python3, python3-requests, Java
#                              libraries and skopeo (a Go program) from apt in a chroot; a
#                              virtualenv /opt/venv with pinned wheels from PyPI (downloaded on the
#                              host, installed offline in the chroot); /srv/web with pinned npm
#                              packages (nested and scoped); /usr/local/bin/audited, a tiny Rust
#                              program built with `cargo auditable`; /usr/local/bin/gomod, a Go
#                              program built in module mode with vendored dependencies
#   compat-bins/               programs built here for `check`: static, static-pie, musl, a newer
#                              glibc symbol, a versioned library (new, old, unversioned), a bundle
#                              with RUNPATH/RPATH $ORIGIN and a wrong-machine library on its path
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-${IMAGEWISE_FIXTURES:-/var/cache/imagewise-fixtures}}
shared=$(cd "$here/../../shared/fixtures" 2>/dev/null && pwd || true)
mkdir -p "$out"
cd "$out"
log() { echo "fixtures: $*" >&2; }
done_mark() { [ -e "$1" ]; }
# Copy SRC to TMP and run SCRIPT (sh -e) inside it with the host's resolver and a /proc; apt's
# lists and caches and the resolver are emptied again afterwards. The caller renames TMP.
chroot_build() { # SRC TMP SCRIPT
  rm -rf "$2" && cp -a "$1" "$2"
  cp /etc/resolv.conf "$2/etc/resolv.conf"
  mount -t proc proc "$2/proc"
  trap "umount '$2/proc' 2>/dev/null || true" EXIT
  chroot "$2" /bin/sh -ec "export DEBIAN_FRONTEND=noninteractive; $3"
  umount "$2/proc"; trap - EXIT
  rm -rf "$2"/var/lib/apt/lists/* "$2"/var/cache/apt/*.bin
  : > "$2/etc/resolv.conf"
}

if ! done_mark bookworm-rootfs.complete; then
  log "debootstrap bookworm minbase (a few minutes)"
  rm -rf bookworm-rootfs bookworm-rootfs.tmp
  debootstrap --variant=minbase bookworm bookworm-rootfs.tmp >/dev/null
  # Keep the tree stable: no apt lists or logs that a later update would change.
  rm -rf bookworm-rootfs.tmp/var/cache/apt/*.bin
  mv bookworm-rootfs.tmp bookworm-rootfs
  touch bookworm-rootfs.complete
fi
R=bookworm-rootfs
TAR_OPTS=(--numeric-owner --xattrs --xattrs-include='*' --sort=name)

if ! done_mark bookworm.tar; then
  log "tar"
  tar "${TAR_OPTS[@]}" -C "$R" -cpf bookworm.tar.tmp .
  mv bookworm.tar.tmp bookworm.tar
fi
if ! done_mark bookworm.tar.zst; then
  log "tar.zst"
  zstd -q -T0 -3 -f bookworm.tar -o bookworm.tar.zst.tmp
  mv bookworm.tar.zst.tmp bookworm.tar.zst
fi

# A single-layer OCI layout from a rootfs: unpack an empty image, fill its rootfs, repack.
make_oci() { # SRC_ROOTFS_DIR_OR_TARBALL DEST
  local src=$1 dest=$2 work
  work=$(mktemp -d "$out/umoci.XXXXXX")
  umoci init --layout "$work/oci"
  umoci new --image "$work/oci:latest"
  umoci unpack --image "$work/oci:latest" "$work/bundle" >/dev/null
  if [ -d "$src" ]; then
    tar "${TAR_OPTS[@]}" -C "$src" -cpf - . | tar --numeric-owner --xattrs --xattrs-include='*' -C "$work/bundle/rootfs" -xpf -
  else
    tar --numeric-owner -C "$work/bundle/rootfs" -xpf "$src"
  fi
  umoci repack --image "$work/oci:latest" "$work/bundle" >/dev/null
  umoci gc --layout "$work/oci"
  rm -rf "$dest"
  mv "$work/oci" "$dest"
  rm -rf "$work"
}

if ! done_mark bookworm-oci/index.json; then
  log "OCI layout (umoci)"
  make_oci "$R" bookworm-oci
fi
if ! done_mark bookworm-docker.tar; then
  log "docker-archive (skopeo)"
  rm -f bookworm-docker.tar.tmp
  skopeo --insecure-policy copy -q oci:bookworm-oci:latest docker-archive:bookworm-docker.tar.tmp:bookworm:latest
  mv bookworm-docker.tar.tmp bookworm-docker.tar
fi

if ! done_mark bookworm-gpt.raw; then
  log "GPT disk with ext4 (mkfs.ext4 -d)"
  rm -f disk.tmp part.tmp
  truncate -s 600M disk.tmp
  sgdisk -n 1:2048:+16M -t 1:ef00 -c 1:esp -n 2:0:0 -t 2:8300 -c 2:root disk.tmp >/dev/null
  start=$(sgdisk -i 2 disk.tmp | awk '/First sector/ {print $3}')
  end=$(sgdisk -i 2 disk.tmp | awk '/Last sector/ {print $3}')
  truncate -s $(( (end - start + 1) * 512 )) part.tmp
  mkfs.ext4 -q -F -L root -d "$R" part.tmp
  dd if=part.tmp of=disk.tmp bs=1M seek=$((start * 512)) oflag=seek_bytes conv=notrunc,sparse status=none
  rm -f part.tmp
  mv disk.tmp bookworm-gpt.raw
fi
if ! done_mark bookworm-gpt.qcow2; then
  log "qcow2 (qemu-img convert -c)"
  qemu-img convert -c -O qcow2 bookworm-gpt.raw bookworm-gpt.qcow2.tmp
  mv bookworm-gpt.qcow2.tmp bookworm-gpt.qcow2
fi

if [ -n "$shared" ] && [ -f "$shared/alpine/alpine-minirootfs-3.20.3-x86_64.tar.gz" ]; then
  A="$shared/alpine/alpine-minirootfs-3.20.3-x86_64.tar.gz"
  if ! done_mark alpine-oci/index.json; then
    log "Alpine OCI layout"
    make_oci "$A" alpine-oci
  fi
  if ! done_mark alpine-oci.tar; then
    log "Alpine oci-archive"
    tar -C alpine-oci -cf alpine-oci.tar.tmp .
    mv alpine-oci.tar.tmp alpine-oci.tar
  fi
  if ! done_mark alpine-docker.tar; then
    log "Alpine docker-archive"
    skopeo --insecure-policy copy -q oci:alpine-oci:latest docker-archive:alpine-docker.tar.tmp:alpine:3.20
    mv alpine-docker.tar.tmp alpine-docker.tar
  fi
  if ! done_mark alpine-disks.complete; then
    log "Alpine disks: bare ext4, MBR, qcow2 v2, qcow2 v3 overlay with zero clusters"
    rm -rf alpine-rootfs alpine-*.raw alpine-*.qcow2 alpine-overlay.zero
    mkdir alpine-rootfs
    tar --numeric-owner -C alpine-rootfs -xpzf "$A"
    # A file whose bytes are known, so zero clusters written over it in the overlay can be seen.
    mkdir -p alpine-rootfs/opt
    python3 -c "import sys; sys.stdout.buffer.write(bytes([0xAA]) * (1 << 20))" > alpine-rootfs/opt/pattern
    truncate -s 64M alpine-ext4.raw
    mkfs.ext4 -q -F -b 4096 -L alpine -d alpine-rootfs alpine-ext4.raw
    truncate -s 72M alpine-mbr.raw
    echo 'start=2048, size=131072, type=83' | sfdisk -q alpine-mbr.raw
    dd if=alpine-ext4.raw of=alpine-mbr.raw bs=1M seek=1 conv=notrunc,sparse status=none
    qemu-img convert -c -O qcow2 -o compat=0.10 alpine-mbr.raw alpine-v2.qcow2
    qemu-img convert -O qcow2 -o compat=1.1 alpine-mbr.raw alpine-base.qcow2
    qemu-img create -q -f qcow2 -b alpine-base.qcow2 -F qcow2 alpine-overlay.qcow2
    block=$(debugfs -R "bmap /opt/pattern 0" alpine-ext4.raw 2>/dev/null)
    start=$(( (1 << 20) + block * 4096 ))
    aligned=$(( (start + 65535) / 65536 * 65536 ))
    qemu-io -f qcow2 -c "write -z $aligned 64k" alpine-overlay.qcow2 >/dev/null
    # The zeroed window, as an offset into /opt/pattern.
    echo $(( aligned - start )) > alpine-overlay.zero
    qemu-img map --output=json alpine-overlay.qcow2 | grep -q '"zero": true' || { log "overlay has no zero clusters"; exit 1; }
    touch alpine-disks.complete
  fi
else
  log "shared/fixtures not found beside the project; Alpine fixtures skipped" && exit 1
fi

if ! done_mark layered-unpacked.complete; then
  log "3-layer OCI image (umoci raw add-layer) and its umoci unpack"
  rm -rf layered-oci layered-unpacked layers.tmp
  mkdir layers.tmp
  python3 "$here/make_layers.py" layers.tmp
  umoci init --layout layered-oci
  umoci new --image layered-oci:latest
  for l in 1 2 3; do
    umoci raw add-layer --image layered-oci:latest "layers.tmp/layer$l.tar"
  done
  umoci unpack --image layered-oci:latest layered-bundle.tmp >/dev/null
  mv layered-bundle.tmp/rootfs layered-unpacked
  rm -rf layered-bundle.tmp layers.tmp
  touch layered-unpacked.complete
fi

arch=$(dpkg --print-architecture)
if ! done_mark kernel-rootfs.complete; then
  log "kernel: linux-image-cloud-$arch unpacked with dpkg-deb -x"
  rm -rf kernel-rootfs kernel.tmp && mkdir -p kernel.tmp/root/etc
  apt-cache show "linux-image-cloud-$arch" >/dev/null 2>&1 || apt-get update -qq
  pkg=$(apt-cache depends "linux-image-cloud-$arch" | awk '/Depends: linux-image-/ {print $2; exit}')
  [ -n "$pkg" ] || { log "no linux-image-cloud-$arch package in the apt sources"; exit 1; }
  (cd kernel.tmp && apt-get download -q "$pkg" >/dev/null)
  dpkg-deb -x kernel.tmp/"$pkg"_*.deb kernel.tmp/root
  cp bookworm-rootfs/etc/os-release kernel.tmp/root/etc/os-release 2>/dev/null \
    || cp bookworm-rootfs/usr/lib/os-release kernel.tmp/root/etc/os-release
  mv kernel.tmp/root kernel-rootfs && rm -rf kernel.tmp
  touch kernel-rootfs.complete
fi

if [ ! -e scratch.tar ]; then
  log "scratch: one static binary"
  rm -rf scratch.tmp && mkdir -p scratch.tmp/deb scratch.tmp/root
  apt-cache show busybox-static >/dev/null 2>&1 || apt-get update -qq
  (cd scratch.tmp && apt-get download -q busybox-static >/dev/null)
  dpkg-deb -x scratch.tmp/busybox-static_*.deb scratch.tmp/deb
  cp scratch.tmp/deb/bin/busybox scratch.tmp/root/app
  tar --numeric-owner -C scratch.tmp/root -cf scratch.tar.tmp . && mv scratch.tar.tmp scratch.tar
  rm -rf scratch.tmp
fi

if ! done_mark distroless-rootfs.complete; then
  log "distroless-style rootfs from the bookworm one"
  rm -rf distroless-rootfs distroless.tmp && mkdir -p distroless.tmp
  python3 "$here/make_distroless.py" bookworm-rootfs distroless.tmp
  mv distroless.tmp distroless-rootfs
  touch distroless-rootfs.complete
fi

if ! done_mark sbom-schemas-v2.complete; then
  log "SPDX 2.3, SPDX 3.0.1 and CycloneDX 1.5 JSON schemas from PyPI (lib4sbom)"
  rm -rf sbom-schemas sbom.tmp && mkdir -p sbom.tmp/s
  python3 -m pip download -q --no-deps --dest sbom.tmp lib4sbom==0.10.4
  (cd sbom.tmp && python3 -m zipfile -e lib4sbom-*.whl x)
  cp sbom.tmp/x/lib4sbom/schemas/spdx/2.3-schema.json sbom.tmp/s/spdx-2.3.schema.json
  # shacl2code's schema of the SPDX 3.0.1 model (its @context is 3.0.1's)
  grep -q 'spdx.org/rdf/3.0.1/spdx-context.jsonld' sbom.tmp/x/lib4sbom/schemas/spdx/3.0-schema.json
  cp sbom.tmp/x/lib4sbom/schemas/spdx/3.0-schema.json sbom.tmp/s/spdx-3.0.1.schema.json
  cp sbom.tmp/x/lib4sbom/schemas/cyclonedx/bom-1.5.schema.json sbom.tmp/x/lib4sbom/schemas/cyclonedx/spdx.schema.json \
     sbom.tmp/x/lib4sbom/schemas/cyclonedx/jsf-0.82.schema.json sbom.tmp/s/
  mv sbom.tmp/s sbom-schemas && rm -rf sbom.tmp
  rm -f sbom-schemas.complete
  touch sbom-schemas-v2.complete
fi
for rel in trixie bullseye; do
  if ! done_mark $rel-rootfs.complete; then
    log "debootstrap $rel minbase (a few minutes)"
    rm -rf $rel-rootfs $rel-rootfs.tmp
    debootstrap --variant=minbase $rel $rel-rootfs.tmp >/dev/null
    rm -rf $rel-rootfs.tmp/var/cache/apt/*.bin
    mv $rel-rootfs.tmp $rel-rootfs
    touch $rel-rootfs.complete
  fi
done

if ! done_mark alpine-arm64-rootfs.complete; then
  log "aarch64 Alpine minirootfs"
  rm -rf alpine-arm64-rootfs alpine-arm64.tmp && mkdir alpine-arm64.tmp
  tar -C alpine-arm64.tmp -xzf "$shared"/alpine/alpine-minirootfs-*-aarch64.tar.gz
  mv alpine-arm64.tmp alpine-arm64-rootfs
  touch alpine-arm64-rootfs.complete
fi

if ! done_mark compat-bins.complete; then
  log "compat-bins: test programs (gcc, musl-gcc)"
  src="$here/../crates/imagewise-compat/tests/data"
  rm -rf compat-bins compat.tmp && mkdir -p compat.tmp/bundle/bin compat.tmp/bundle/lib compat.tmp/bundle/wrong \
    compat.tmp/old compat.tmp/nover compat.tmp/new
  c=compat.tmp
  gcc -O1 -o $c/hello "$src/hello.c"
  gcc -O1 -static -o $c/static "$src/hello.c"
  gcc -O1 -static-pie -o $c/static-pie "$src/hello.c"
  musl-gcc -O1 -o $c/musl "$src/hello.c"
  gcc -O1 -o $c/newglibc "$src/newglibc.c"
  lib() { gcc -O1 -shared -fPIC -Wl,-soname,libiwdemo.so.1 "$@"; }
  lib -Wl,--version-script="$src/iwdemo-v2.map" -o $c/new/libiwdemo.so.1 "$src/iwdemo.c"
  lib -DOLD -Wl,--version-script="$src/iwdemo-v1.map" -o $c/old/libiwdemo.so.1 "$src/iwdemo.c"
  lib -DOLD -o $c/nover/libiwdemo.so.1 "$src/iwdemo.c"
  cp $c/new/libiwdemo.so.1 $c/bundle/lib/
  app() { gcc -O1 -o "$1" "$src/app.c" -L$c/new -l:libiwdemo.so.1 "${@:2}"; }
  app $c/needs-missing
  app $c/bundle/bin/app -Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN/../lib'
  app $c/bundle/bin/app-rpath -Wl,--disable-new-dtags -Wl,-rpath,'$ORIGIN/../lib'
  app $c/bundle/bin/app-skip -Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN/../wrong:$ORIGIN/../lib'
  # A library of another machine where the loader looks first: it must be skipped.
  tar -xzf "$shared"/alpine/alpine-minirootfs-*-aarch64.tar.gz -O ./lib/libz.so.1.3.1 > $c/bundle/wrong/libiwdemo.so.1
  tar -xzf "$shared"/alpine/alpine-minirootfs-*-aarch64.tar.gz -O ./bin/busybox > $c/arm64-busybox
  chmod +x $c/arm64-busybox
  mv compat.tmp compat-bins
  touch compat-bins.complete
fi
if ! done_mark bookworm-plus-rootfs.complete; then
  log "bookworm-plus: bookworm-rootfs + packages installed in a chroot"
  rm -rf bookworm-plus-rootfs
  chroot_build bookworm-rootfs plus.tmp 'apt-get update -qq
    apt-get install -y -qq --no-install-recommends curl ca-certificates less >/dev/null && apt-get clean'
  mv plus.tmp bookworm-plus-rootfs
  touch bookworm-plus-rootfs.complete
fi
if ! done_mark app-rootfs.complete; then
  log "app: bookworm-rootfs + Python, npm, Java, Go and Rust applications"
  rm -rf app-rootfs
  chroot_build bookworm-rootfs app.tmp 'apt-get update -qq
    apt-get install -y -qq --no-install-recommends python3 python3-venv python3-requests \
      libcommons-lang3-java libslf4j-java skopeo >/dev/null && apt-get clean'
  # pip and npm cannot verify the registry inside the chroot: download on the host.
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.11 \
    --platform manylinux2014_x86_64 --implementation cp -d app.tmp/tmp/wheels \
    Flask==2.3.3 Werkzeug==3.0.1 Jinja2==3.1.2 MarkupSafe==2.1.3 itsdangerous==2.1.2 \
    click==8.1.7 blinker==1.7.0 PyYAML==6.0.1 typing_extensions==4.8.0 zope.interface==6.1 \
    setuptools==68.2.2
  # The venv's own pip (Debian's bundled wheel) installs them offline.
  chroot app.tmp python3 -m venv /opt/venv
  env -u PIP_FIND_LINKS chroot app.tmp /opt/venv/bin/pip install -q --no-index --find-links /tmp/wheels \
    Flask==2.3.3 PyYAML==6.0.1 typing_extensions==4.8.0 zope.interface==6.1
  rm -rf app.tmp/tmp/wheels
  mkdir -p app.tmp/srv/web
  (cd app.tmp/srv/web && printf '{"name":"web","version":"1.0.0","private":true}\n' > package.json \
    && npm install -q --no-audit --no-fund --save-exact express@4.18.2 @babel/runtime@7.23.2 \
       debug@2.6.9 ms@2.1.3 >/dev/null 2>&1)
  # A Go program in module mode with two vendored dependencies (one at a pseudo-version):
  # Debian builds its Go packages without module information, and no module proxy is reachable.
  g="$out/gomod.tmp"; rm -rf "$g" && mkdir -p "$g/vendor/example.org/greet" "$g/vendor/example.org/pseudo"
  printf 'package main\n\nimport (\n\t"fmt"\n\n\t"example.org/greet"\n\t"example.org/pseudo"\n)\n\nfunc main() { fmt.Println(greet.Hello(), pseudo.N) }\n' > "$g/main.go"
  printf 'package greet\n\nfunc Hello() string { return "hello" }\n' > "$g/vendor/example.org/greet/greet.go"
  printf 'package pseudo\n\nconst N = 7\n' > "$g/vendor/example.org/pseudo/pseudo.go"
  printf 'module example.com/gomod\n\ngo 1.19\n\nrequire (\n\texample.org/greet v1.2.3\n\texample.org/pseudo v0.0.0-20230101000000-abcdef123456\n)\n' > "$g/go.mod"
  printf '# example.org/greet v1.2.3\n## explicit\nexample.org/greet\n# example.org/pseudo v0.0.0-20230101000000-abcdef123456\n## explicit\nexample.org/pseudo\n' > "$g/vendor/modules.txt"
  (cd "$g" && GOFLAGS=-mod=vendor GOPROXY=off GOPATH="$g/gopath" GOCACHE="$g/cache" go build -trimpath -o "$out/app.tmp/usr/local/bin/gomod" .)
  rm -rf "$g"
  rm -rf "$out/audited.tmp" && mkdir -p "$out/audited.tmp/src"
  printf '[package]\nname = "audited"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nitoa = "=1.0.9"\ncfg-if = "=1.0.0"\n' \
    > "$out/audited.tmp/Cargo.toml"
  printf 'fn main() { cfg_if::cfg_if! { if #[cfg(unix)] { println!("{}", itoa::Buffer::new().format(7)); } } }\n' \
    > "$out/audited.tmp/src/main.rs"
  (cd "$out/audited.tmp" && CARGO_TARGET_DIR="$out/audited.tmp/target" cargo auditable build -q --release)
  install -m 0755 "$out/audited.tmp/target/release/audited" app.tmp/usr/local/bin/audited
  rm -rf "$out/audited.tmp"
  mv app.tmp app-rootfs
  touch app-rootfs.complete
fi
# JavaScript projects with a lock file and nothing installed: yarn 1, yarn 4 and pnpm 9 each
# install the same pinned dependencies (an alias, a scoped package, two versions of one, a dev
# dependency); what each package manager then lists is saved as the oracle before its
# node_modules is removed.
if ! done_mark js-locks.complete; then
  log "js-locks: yarn 1, yarn 4 and pnpm 9 lock files with their package managers' listings"
  rm -rf js-locks.tmp && mkdir -p js-locks.tmp/tools js-locks.tmp/tree/srv
  npm install -q --no-audit --no-fund --prefix js-locks.tmp/tools yarn@1.22.22 pnpm@9.15.0 \
    @yarnpkg/cli-dist@4.5.3 >/dev/null 2>&1
  t="$out/js-locks.tmp/tools/node_modules"
  for p in yarn1 yarn4 pnpm; do
    d=js-locks.tmp/tree/srv/$p; mkdir -p "$d"
    printf '{"name":"%s-app","version":"1.0.0","private":true,"dependencies":{"debug":"2.6.9","ms":"2.1.3","@babel/runtime":"7.23.2","string-width-cjs":"npm:string-width@4.2.3"},"devDependencies":{"is-number":"7.0.0"}}\n' \
      "$p" > "$d/package.json"
  done
  (cd js-locks.tmp/tree/srv/yarn1 && node "$t/yarn/bin/yarn.js" install --silent --non-interactive \
     --no-progress >/dev/null 2>&1 \
   && node "$t/yarn/bin/yarn.js" list --json --no-progress > ../../../oracle-yarn1.jsonl 2>/dev/null)
  (cd js-locks.tmp/tree/srv/yarn4 && YARN_ENABLE_TELEMETRY=0 YARN_NODE_LINKER=node-modules \
     node "$t/@yarnpkg/cli-dist/bin/yarn.js" install >/dev/null 2>&1 \
   && YARN_ENABLE_TELEMETRY=0 node "$t/@yarnpkg/cli-dist/bin/yarn.js" info -AR --json \
     > ../../../oracle-yarn4.jsonl 2>/dev/null)
  (cd js-locks.tmp/tree/srv/pnpm && node "$t/pnpm/bin/pnpm.cjs" install --silent >/dev/null 2>&1 \
   && node "$t/pnpm/bin/pnpm.cjs" ls --json --depth Infinity > ../../../oracle-pnpm.json 2>/dev/null)
  for p in yarn1 yarn4 pnpm; do
    d=js-locks.tmp/tree/srv/$p
    rm -rf "$d/node_modules" "$d/.yarn" "$d"/.pnp.* "$d/.yarnrc.yml"
    [ -s "js-locks.tmp/oracle-$p.json" ] || [ -s "js-locks.tmp/oracle-$p.jsonl" ] \
      || { echo "fixtures: js-locks: $p produced no listing" >&2; exit 1; }
  done
  rm -rf js-locks.tmp/tools
  mv js-locks.tmp js-locks
  touch js-locks.complete
fi
# Lint fixtures: a Debian 11 server (systemd, sshd, sudo, auditd-less) with packages' defaults,
# and a copy misconfigured with the real tools inside a chroot. OpenSCAP's Debian 11 content
# evaluates both (the lint agreement test).
if ! done_mark bullseye-server-rootfs.complete; then
  log "bullseye-server: bullseye-rootfs + systemd, openssh-server, sudo installed in a chroot"
  rm -rf bullseye-server-rootfs
  chroot_build bullseye-rootfs server.tmp 'apt-get update -qq
    apt-get install -y -qq --no-install-recommends systemd-sysv openssh-server sudo >/dev/null && apt-get clean'
  mv server.tmp bullseye-server-rootfs
  touch bullseye-server-rootfs.complete
fi
if ! done_mark bullseye-misconfigured-rootfs.complete; then
  log "bullseye-misconfigured: bullseye-server misconfigured in a chroot (telnetd, passwd -d, chmod, sed, systemctl)"
  rm -rf bullseye-misconfigured-rootfs
  chroot_build bullseye-server-rootfs bad.tmp 'apt-get update -qq
    apt-get install -y -qq --no-install-recommends telnetd >/dev/null && apt-get clean
    useradd -m -s /bin/bash alice && passwd -d alice
    useradd -o -u 0 -g 0 -M -s /bin/sh toor
    echo "daemon:S3cret-daemon-pw" | chpasswd
    usermod -s /bin/bash daemon
    chmod 0644 /etc/shadow
    chmod 0666 /etc/passwd
    sed -i "s/^#\?PermitRootLogin .*/PermitRootLogin yes/; s/^#\?PermitEmptyPasswords .*/PermitEmptyPasswords yes/" /etc/ssh/sshd_config
    chmod 0644 /etc/ssh/ssh_host_ed25519_key
    sed -i "s/^UMASK.*/UMASK 002/" /etc/login.defs
    echo "alice ALL=(ALL) NOPASSWD: ALL" > /etc/sudoers.d/alice && chmod 0440 /etc/sudoers.d/alice
    echo "Defaults !authenticate" > /etc/sudoers.d/open && chmod 0440 /etc/sudoers.d/open
    mkdir -p /srv/shared && chmod 0777 /srv/shared && echo data > /srv/shared/notes && chmod 0666 /srv/shared/notes
    printf "kernel.kptr_restrict = 0\nnet.ipv4.conf.all.accept_redirects = 1\nnet.ipv4.tcp_syncookies = 0\nnet.core.somaxconn = 128\nvm.swappiness = 60\n" > /etc/sysctl.d/90-bad.conf
    mkdir -p /root/.aws && printf "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n" > /root/.aws/credentials
    printf "machine ftp.example.com login alice password hunter2\n" > /home/alice/.netrc
    systemctl mask systemd-timesyncd.service
    systemctl enable ssh.service'
  ssh-keygen -q -t ed25519 -N "" -f bad.tmp/home/alice/id_ed25519
  mv bad.tmp bullseye-misconfigured-rootfs
  touch bullseye-misconfigured-rootfs.complete
fi
# A VM image: the server plus what a cloud disk carries (cloud-init, the QEMU guest agent, a cloud
# kernel with its initramfs, a serial console on the kernel command line, no baked host keys),
# as an ext4 qcow2 made with mkfs.ext4 -d and qemu-img; and the server itself as a disk.
if ! done_mark bullseye-vm.complete; then
  log "bullseye-vm: cloud-init, qemu-guest-agent, linux-image-cloud-amd64 in a chroot; qcow2 disks"
  chroot_build bullseye-server-rootfs vm.tmp 'apt-get update -qq
    apt-get install -y -qq --no-install-recommends cloud-init qemu-guest-agent "linux-image-cloud-$(dpkg --print-architecture)" >/dev/null
    apt-get clean
    mkdir -p /etc/default
    echo "GRUB_CMDLINE_LINUX=\"console=tty0 console=ttyS0,115200\"" > /etc/default/grub
    rm -f /etc/ssh/ssh_host_*'
  for v in vm server; do
    src=vm.tmp; [ $v = server ] && src=bullseye-server-rootfs
    rm -f bullseye-$v.raw.tmp
    truncate -s 2G bullseye-$v.raw.tmp
    mkfs.ext4 -q -F -d $src bullseye-$v.raw.tmp
    qemu-img convert -c -O qcow2 bullseye-$v.raw.tmp bullseye-$v.qcow2.tmp
    rm -f bullseye-$v.raw.tmp && mv bullseye-$v.qcow2.tmp bullseye-$v.qcow2
  done
  rm -rf vm.tmp
  touch bullseye-vm.complete
fi
log "ready in $out"
