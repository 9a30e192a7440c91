//! Each rule family against trees made in the test (and the fixture images): every rule named
//! here fails on its broken tree and passes on its sound one.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use imagewise_lint::{lint_facts, wants, LintOptions, Verdict};
use imagewise_source::{open, OpenOptions};

fn fixtures() -> PathBuf {
    let dir = std::env::var_os("IMAGEWISE_FIXTURES")
        .map(PathBuf::from)
        .expect("IMAGEWISE_FIXTURES is not set: run scripts/test.sh");
    assert!(dir.join("bookworm-rootfs.complete").exists());
    dir
}

fn sh(script: &str) {
    let st = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .status()
        .unwrap();
    assert!(st.success(), "{script}");
}

/// A copy of a fixture tree, changed by `script` run inside it (cwd = the copy).
fn variant(t: &Path, from: &str, name: &str, script: &str) -> PathBuf {
    let dst = t.join(name);
    sh(&format!(
        "cp -a {} {d} && cd {d} && {script}",
        fixtures().join(from).display(),
        d = dst.display()
    ));
    dst
}

/// The verdict of `rule` on `image` under the given profiles, with the facts' config
/// changed by `edit` (for container fields no tool here writes, such as Healthcheck).
fn verdict_with(
    image: &str,
    rule: &str,
    profiles: &[&str],
    edit: impl Fn(&mut imagewise_facts::ImageFacts),
) -> (Verdict, String) {
    let tree = open(image, &OpenOptions::default()).unwrap();
    let (mut facts, files) = imagewise_facts::inspect_with(&tree, wants(&tree));
    edit(&mut facts);
    let opts = LintOptions {
        profiles: profiles.iter().map(|s| s.to_string()).collect(),
        ..LintOptions::default()
    };
    let report = lint_facts(&tree, &facts, &files, &opts).unwrap();
    let r = report
        .result(rule)
        .unwrap_or_else(|| panic!("{rule} not selected by {profiles:?}"));
    (r.verdict, format!("{:?} {:?}", r.evidence, r.note))
}

fn verdict(image: &Path, rule: &str, profiles: &[&str]) -> (Verdict, String) {
    verdict_with(image.to_str().unwrap(), rule, profiles, |_| {})
}

fn expect(image: &Path, rule: &str, profiles: &[&str], want: Verdict) {
    let (v, detail) = verdict(image, rule, profiles);
    assert_eq!(v, want, "{rule} on {}: {detail}", image.display());
}

/// Every built-in profile.
const ALL: &[&str] = &{
    let mut names = [""; imagewise_lint::BUILTIN_PROFILES.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = imagewise_lint::BUILTIN_PROFILES[i].0;
        i += 1;
    }
    names
};

#[test]
fn tuning_rules_read_the_trees_sysctl_limits_fstab_and_cmdline() {
    let t = tempfile::tempdir().unwrap();
    let server = fixtures().join("bullseye-server-rootfs");
    let tuned = variant(
        t.path(),
        "bullseye-server-rootfs",
        "tuned",
        "printf 'net.core.somaxconn = 8192\\nnet.ipv4.tcp_max_syn_backlog = 8192\\nnet.ipv4.tcp_tw_reuse = 1\\nvm.swappiness = 1\\nnet.ipv4.tcp_max_tw_buckets = 262144\\n' > etc/sysctl.d/60-tuning.conf && \
         printf '* soft nofile 131072\\n* hard nofile 131072\\n' > etc/security/limits.d/90-nofile.conf && \
         mkdir -p etc/systemd/system.conf.d && printf '[Manager]\\nDefaultLimitNOFILE=131072:524288\\n' > etc/systemd/system.conf.d/limits.conf && \
         printf 'UUID=1234 / ext4 noatime,errors=remount-ro 0 1\\n' > etc/fstab && \
         mkdir -p etc/default && printf 'GRUB_CMDLINE_LINUX=\"console=tty0 console=ttyS0,115200 transparent_hugepage=madvise\"\\n' > etc/default/grub",
    );
    let untuned = variant(
        t.path(),
        "bullseye-server-rootfs",
        "untuned",
        "printf 'UUID=1234 / ext4 errors=remount-ro 0 1\\n' > etc/fstab && echo 'fs.file-max = 8192' > etc/sysctl.d/50-small.conf && \
         mkdir -p etc/default && printf 'GRUB_CMDLINE_LINUX=\"transparent_hugepage=always\"\\n' > etc/default/grub && \
         mkdir -p etc/udev/rules.d && echo 'ACTION==\"add|change\", KERNEL==\"sd[a-z]\", ATTR{queue/scheduler}=\"bfq\"' > etc/udev/rules.d/60-io.rules",
    );
    for rule in [
        "tune-somaxconn",
        "tune-syn-backlog",
        "tune-tw-reuse",
        "tune-nofile",
        "tune-swappiness",
        "tune-thp",
        "tune-noatime",
        "tune-io-scheduler",
        "tune-tw-buckets",
        "tune-file-max",
    ] {
        expect(&tuned, rule, ALL, Verdict::Pass);
        expect(&untuned, rule, ALL, Verdict::Fail);
    }
    // The misconfigured tree sets somaxconn to 128 in sysctl.d: named with its file.
    let (v, d) = verdict(
        &fixtures().join("bullseye-misconfigured-rootfs"),
        "tune-somaxconn",
        &["web"],
    );
    assert_eq!(v, Verdict::Fail);
    assert!(d.contains("90-bad.conf"), "{d}");
    // Without a kernel the THP default is not known: not applicable, never a guess.
    expect(&server, "tune-thp", ALL, Verdict::NotApplicable);
}

#[test]
fn a_release_past_its_end_of_support_fails() {
    // Alpine 3.20's main repository support ended 2026-04-01; trixie's runs to 2028-08-09.
    let (v, d) = verdict(
        &fixtures().join("alpine-rootfs"),
        "release-end-of-support",
        ALL,
    );
    assert_eq!(v, Verdict::Fail, "{d}");
    assert!(
        d.contains("Alpine Linux 3.20") && d.contains("2026-04-01"),
        "{d}"
    );
    expect(
        &fixtures().join("trixie-rootfs"),
        "release-end-of-support",
        ALL,
        Verdict::Pass,
    );
    // A release the table does not know: unknown, never a pass.
    let (v, d) = verdict_with(
        fixtures().join("trixie-rootfs").to_str().unwrap(),
        "release-end-of-support",
        ALL,
        |f| f.os.support = None,
    );
    assert_eq!(v, Verdict::Unknown, "{d}");
}

#[test]
fn kernel_rules_judge_the_kernel_the_image_carries() {
    let t = tempfile::tempdir().unwrap();
    // kernel-rootfs has no init: a copy with one, so machine rules apply.
    let with_init = variant(
        t.path(),
        "kernel-rootfs",
        "booting",
        "mkdir -p sbin lib/systemd && printf '\\177ELF' > lib/systemd/systemd && ln -s /lib/systemd/systemd sbin/init",
    );
    expect(&with_init, "kernel-cgroup-bpf", ALL, Verdict::Pass);
    let stripped = variant(
        t.path(),
        "kernel-rootfs",
        "stripped",
        "mkdir -p sbin lib/systemd && printf '\\177ELF' > lib/systemd/systemd && ln -s /lib/systemd/systemd sbin/init && \
         sed -i 's/^CONFIG_BPF_SYSCALL=y/# CONFIG_BPF_SYSCALL is not set/; s/^CONFIG_VIRTIO_BLK=.*/# CONFIG_VIRTIO_BLK is not set/' boot/config-*",
    );
    let (v, d) = verdict(&stripped, "kernel-cgroup-bpf", ALL);
    assert_eq!(v, Verdict::Fail, "{d}");
    assert!(d.contains("CONFIG_BPF_SYSCALL"), "{d}");
    // The dmesg default comes from that kernel's config.
    expect(&with_init, "sysctl-dmesg-restrict", ALL, Verdict::Pass);
    // No kernel: not applicable.
    expect(
        &fixtures().join("bullseye-server-rootfs"),
        "kernel-cgroup-bpf",
        ALL,
        Verdict::NotApplicable,
    );
}

#[test]
fn container_shape_rules() {
    let f = fixtures();
    let t = tempfile::tempdir().unwrap();
    // bookworm-oci: no User, tag latest, apt lists and debs, docs.
    let bookworm = format!("oci:{}", f.join("bookworm-oci").display());
    for rule in ["runs-as-root", "latest-tag", "package-caches", "slim-base"] {
        let (v, d) = verdict_with(&bookworm, rule, ALL, |_| {});
        assert_eq!(v, Verdict::Fail, "{rule}: {d}");
    }
    // The same image given a user and a version tag with umoci, the real tool.
    let good = t.path().join("good-oci");
    sh(&format!(
        "cp -a {} {g} && umoci config --image {g}:latest --config.user 10001 --tag v1 >/dev/null 2>&1",
        f.join("bookworm-oci").display(),
        g = good.display()
    ));
    let good_ref = format!("oci:{}:v1", good.display());
    for rule in ["runs-as-root", "latest-tag"] {
        let (v, d) = verdict_with(&good_ref, rule, ALL, |_| {});
        assert_eq!(v, Verdict::Pass, "{rule}: {d}");
    }
    // Alpine's minirootfs as an OCI image: no caches, tiny docs.
    let alpine = format!("oci:{}", f.join("alpine-oci").display());
    for rule in ["package-caches", "slim-base", "build-tools"] {
        let (v, d) = verdict_with(&alpine, rule, ALL, |_| {});
        assert_eq!(v, Verdict::Pass, "{rule}: {d}");
    }
    // Healthcheck, ENV secrets and history: fields docker writes; set on the facts.
    let (v, _) = verdict_with(&alpine, "no-healthcheck", ALL, |_| {});
    assert_eq!(v, Verdict::Fail);
    let (v, _) = verdict_with(&alpine, "no-healthcheck", ALL, |f| {
        f.config.as_mut().unwrap().healthcheck = Some(vec!["CMD".into(), "true".into()]);
    });
    assert_eq!(v, Verdict::Pass);
    let (v, d) = verdict_with(&alpine, "secrets-in-env", ALL, |f| {
        f.config
            .as_mut()
            .unwrap()
            .env
            .push("DB_PASSWORD=hunter2".into());
    });
    assert_eq!(v, Verdict::Fail);
    assert!(
        !d.contains("hunter2"),
        "the secret itself is never printed: {d}"
    );
    let (v, _) = verdict_with(&alpine, "secrets-in-env", ALL, |f| {
        f.config
            .as_mut()
            .unwrap()
            .env
            .push("PASSWORD_FILE=/run/secrets/db".into());
    });
    assert_eq!(v, Verdict::Pass);
    // The layered fixture deletes files in a later layer.
    let layered = format!("oci:{}", f.join("layered-oci").display());
    let (v, d) = verdict_with(&layered, "layer-waste", ALL, |f| {
        f.size.waste_bytes += 64 << 20
    });
    assert_eq!(v, Verdict::Fail, "{d}");
    let (v, d) = verdict_with(&layered, "layer-waste", ALL, |_| {});
    assert_eq!(v, Verdict::Pass, "small waste is under the limit: {d}");
}

#[test]
fn vm_rules_on_disks() {
    let f = fixtures();
    // bookworm-gpt: a debootstrap tree on a disk, no kernel, no bootloader, no cloud-init.
    let disk = format!("disk:{}", f.join("bookworm-gpt.qcow2").display());
    for rule in ["vm-kernel", "vm-bootloader"] {
        let (v, d) = verdict_with(&disk, rule, ALL, |_| {});
        assert_eq!(v, Verdict::Fail, "{rule}: {d}");
    }
    // The same rules do not judge a container image.
    let oci = format!("oci:{}", f.join("bookworm-oci").display());
    let (v, _) = verdict_with(&oci, "vm-kernel", ALL, |_| {});
    assert_eq!(v, Verdict::NotApplicable);
}

#[test]
fn secrets_are_found_by_content_not_name_alone() {
    let t = tempfile::tempdir().unwrap();
    let tree = variant(
        t.path(),
        "alpine-rootfs",
        "secrets",
        "mkdir -p root/.docker srv/app && \
         printf '{\"auths\":{\"registry.example\":{\"auth\":\"dXNlcjpwYXNz\"}}}' > root/.docker/config.json && \
         printf 'DEBUG=1\\nSTRIPE_API_KEY=sk_live_abc\\n' > srv/app/.env && \
         printf -- '-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n' > srv/app/server.pem",
    );
    let (v, d) = verdict(&tree, "credential-files", ALL);
    assert_eq!(v, Verdict::Fail);
    assert!(
        d.contains("config.json") && d.contains("STRIPE_API_KEY"),
        "{d}"
    );
    // A certificate named .pem is not a private key.
    expect(&tree, "private-keys", ALL, Verdict::Pass);
    sh(&format!(
        "ssh-keygen -q -t ed25519 -N '' -f {}/srv/app/deploy.key",
        tree.display()
    ));
    expect(&tree, "private-keys", ALL, Verdict::Fail);
}

#[test]
fn misconfigured_fails_where_the_server_passes() {
    let f = fixtures();
    let bad = f.join("bullseye-misconfigured-rootfs");
    let good = f.join("bullseye-server-rootfs");
    for rule in [
        "ssh-root-login",
        "ssh-empty-passwords",
        "empty-password",
        "uid0-not-root",
        "system-account-shell",
        "system-account-password",
        "sudo-nopasswd",
        "sudo-no-authenticate",
        "shadow-permissions",
        "passwd-permissions",
        "world-writable-files",
        "world-writable-dirs",
        "setuid-unexpected",
        "ssh-host-key-permissions",
        "credential-files",
        "netrc-files",
        "private-keys",
        "insecure-servers",
        "sysctl-syncookies",
    ] {
        expect(&bad, rule, ALL, Verdict::Fail);
        expect(&good, rule, ALL, Verdict::Pass);
    }
}

#[test]
fn server_defaults_fail_and_a_hardened_copy_passes() {
    let t = tempfile::tempdir().unwrap();
    let server = fixtures().join("bullseye-server-rootfs");
    let hardened = variant(
        t.path(),
        "bullseye-server-rootfs",
        "hardened",
        "printf 'PermitRootLogin no\\nPasswordAuthentication no\\n' > etc/ssh/sshd_config.d/10-hardening.conf && \
         sed -i 's/^UMASK.*/UMASK 027/' etc/login.defs && \
         echo 'password requisite pam_pwquality.so retry=3' >> etc/pam.d/common-password && \
         ln -s /lib/systemd/system/systemd-timesyncd.service etc/systemd/system/sysinit.target.wants/systemd-timesyncd.service && \
         mkdir -p sbin etc/audit && printf '\\177ELF' > sbin/auditd && \
         printf 'max_log_file = 8\\nmax_log_file_action = rotate\\n' > etc/audit/auditd.conf && \
         mkdir -p etc/rsyslog.d && echo '*.* @@logs.example.internal:514' > etc/rsyslog.d/90-forward.conf && \
         mkdir -p etc/apparmor.d && echo 'profile x /usr/bin/x {}' > etc/apparmor.d/usr.bin.x && \
         touch etc/system-fips && \
         printf 'kernel.kptr_restrict = 2\\nkernel.dmesg_restrict = 1\\nnet.ipv4.conf.all.rp_filter = 1\\nnet.ipv4.conf.all.accept_redirects = 0\\nnet.ipv4.conf.default.accept_redirects = 0\\nnet.ipv4.conf.all.send_redirects = 0\\nnet.ipv4.conf.default.send_redirects = 0\\n' > etc/sysctl.d/60-hardening.conf && \
         mkdir -p root/.ssh && chmod 0700 root/.ssh && echo 'ssh-ed25519 AAAA admin' > root/.ssh/authorized_keys && chmod 0600 root/.ssh/authorized_keys",
    );
    // fips-mode is in no built-in profile: a user profile enables it.
    let mut profiles = ALL.to_vec();
    profiles.push("fips");
    let user = std::sync::Arc::new(
        imagewise_lint::UserProfiles::parse(
            "[profiles.fips]\nenable = [\"fips-mode\"]\n",
            &imagewise_lint::catalogue(),
        )
        .unwrap(),
    );
    let run = |image: &Path, rule: &str| {
        let tree = open(image.to_str().unwrap(), &OpenOptions::default()).unwrap();
        let opts = LintOptions {
            profiles: profiles.iter().map(|s| s.to_string()).collect(),
            user: user.clone(),
            ..LintOptions::default()
        };
        let r = imagewise_lint::lint_image(&tree, &opts).unwrap();
        let x = r.result(rule).unwrap();
        (x.verdict, format!("{:?} {:?}", x.evidence, x.note))
    };
    for rule in [
        "ssh-password-auth",
        "ssh-root-login-disabled",
        "login-defs-umask",
        "pam-password-quality",
        "time-sync",
        "auditd-absent",
        "log-forwarding",
        "mac-absent",
        "fips-mode",
        "sysctl-kptr-restrict",
        "sysctl-dmesg-restrict",
        "sysctl-rp-filter",
        "sysctl-accept-redirects",
        "sysctl-send-redirects",
    ] {
        let (v, d) = run(&server, rule);
        assert_eq!(v, Verdict::Fail, "{rule} on the server: {d}");
        let (v, d) = run(&hardened, rule);
        assert_eq!(v, Verdict::Pass, "{rule} on the hardened copy: {d}");
    }
    expect(&hardened, "authorized-keys-permissions", ALL, Verdict::Pass);
    expect(&hardened, "auditd-log-size", ALL, Verdict::Pass);
    expect(&server, "auditd-log-size", ALL, Verdict::NotApplicable);
    // Broken the other way.
    let loose = variant(
        t.path(),
        "bullseye-server-rootfs",
        "loose",
        "mkdir -p root/.ssh etc/audit etc/selinux && echo 'ssh-ed25519 AAAA x' > root/.ssh/authorized_keys && chmod 0666 root/.ssh/authorized_keys && \
         printf 'max_log_file_action = ignore\\n' > etc/audit/auditd.conf && \
         echo 'SELINUX=permissive' > etc/selinux/config && \
         ln -s /lib/systemd/system/ssh.service etc/systemd/system/multi-user.target.wants/avahi-daemon.service && \
         mkdir -p etc/systemd && printf '[Journal]\\nStorage=volatile\\n' > etc/systemd/journald.conf",
    );
    for rule in [
        "authorized-keys-permissions",
        "auditd-log-size",
        "selinux-not-enforcing",
        "unneeded-services",
        "journald-volatile",
    ] {
        expect(&loose, rule, ALL, Verdict::Fail);
    }
    expect(&server, "unneeded-services", ALL, Verdict::Pass);
    expect(&server, "journald-volatile", ALL, Verdict::Pass);
    let enforcing = variant(
        t.path(),
        "bullseye-server-rootfs",
        "enforcing",
        "mkdir -p etc/selinux && echo 'SELINUX=enforcing' > etc/selinux/config",
    );
    expect(&enforcing, "selinux-not-enforcing", ALL, Verdict::Pass);
}

#[test]
fn an_oci_image_made_with_umoci_that_deletes_a_big_file_and_runs_as_root() {
    let f = fixtures();
    let t = tempfile::tempdir().unwrap();
    let oci = t.path().join("oci");
    // Layer 1 adds 16 MiB and a setuid compiler; layer 2 deletes the 16 MiB (a whiteout).
    sh(&format!(
        "cp -a {alpine} {oci} && cd {t} && mkdir -p l1/usr/bin l2 && \
         head -c 16777216 /dev/urandom > l1/big && printf '\\177ELF' > l1/usr/bin/gcc && chmod 4755 l1/usr/bin/gcc && \
         tar --numeric-owner -C l1 -cf l1.tar . && touch l2/.wh.big && tar --numeric-owner -C l2 -cf l2.tar . && \
         umoci raw add-layer --image {oci}:latest l1.tar && umoci raw add-layer --image {oci}:latest l2.tar && \
         umoci config --image {oci}:latest --tag bad \
           --history.created_by 'ADD https://example.com/app.tgz /app' --config.env DB_PASSWORD=hunter2 && \
         umoci config --image {oci}:bad --tag bad2 --history.created_by '/bin/sh -c sudo apk add curl' && \
         umoci config --image {oci}:latest --tag good --config.user 10001",
        alpine = f.join("alpine-oci").display(),
        oci = oci.display(),
        t = t.path().display()
    ));
    let bad = format!("oci:{}:bad2", oci.display());
    for rule in [
        "runs-as-root",
        "layer-waste",
        "build-tools",
        "setuid-in-container",
        "add-instead-of-copy",
        "sudo-in-build",
        "secrets-in-env",
        "package-manager-in-container",
    ] {
        let (v, d) = verdict_with(&bad, rule, ALL, |_| {});
        assert_eq!(v, Verdict::Fail, "{rule}: {d}");
    }
    let (_, d) = verdict_with(&bad, "layer-waste", ALL, |_| {});
    assert!(d.contains("16.0 MiB"), "{d}");
    let good = format!("oci:{}:good", oci.display());
    for rule in [
        "runs-as-root",
        "add-instead-of-copy",
        "sudo-in-build",
        "secrets-in-env",
    ] {
        let (v, d) = verdict_with(&good, rule, ALL, |_| {});
        assert!(
            matches!(v, Verdict::Pass | Verdict::NotApplicable),
            "{rule}: {v:?} {d}"
        );
    }
    let alpine = format!("oci:{}", f.join("alpine-oci").display());
    for rule in ["setuid-in-container", "build-tools", "layer-waste"] {
        let (v, d) = verdict_with(&alpine, rule, ALL, |_| {});
        assert!(
            matches!(v, Verdict::Pass | Verdict::NotApplicable),
            "{rule}: {v:?} {d}"
        );
    }
}

#[test]
fn vm_disks_with_and_without_cloud_init() {
    let f = fixtures();
    let vm = f.join("bullseye-vm.qcow2");
    let bare = f.join("bullseye-server.qcow2");
    for rule in [
        "vm-cloud-init",
        "vm-guest-agent",
        "vm-kernel",
        "vm-serial-console",
        "ssh-host-keys-baked",
    ] {
        expect(&vm, rule, ALL, Verdict::Pass);
        expect(&bare, rule, ALL, Verdict::Fail);
    }
    expect(&vm, "kernel-virtio", ALL, Verdict::Pass);
    expect(&vm, "kernel-cgroup-bpf", ALL, Verdict::Pass);
    expect(&bare, "kernel-virtio", ALL, Verdict::NotApplicable);
    // A kernel without virtio drivers on a disk made here.
    let t = tempfile::tempdir().unwrap();
    let stripped = variant(
        t.path(),
        "kernel-rootfs",
        "stripped",
        "mkdir -p sbin lib/systemd && printf '\\177ELF' > lib/systemd/systemd && ln -s /lib/systemd/systemd sbin/init && \
         sed -i 's/^CONFIG_VIRTIO_BLK=.*/# CONFIG_VIRTIO_BLK is not set/' boot/config-*",
    );
    let disk = t.path().join("k.raw");
    sh(&format!(
        "truncate -s 512M {d} && mkfs.ext4 -q -F -d {s} {d}",
        d = disk.display(),
        s = stripped.display()
    ));
    let (v, d) = verdict(&disk, "kernel-virtio", ALL);
    assert_eq!(v, Verdict::Fail, "{d}");
    assert!(d.contains("CONFIG_VIRTIO_BLK"), "{d}");
}

#[test]
fn a_distroless_image_made_with_umoci_has_no_package_manager() {
    let f = fixtures();
    let t = tempfile::tempdir().unwrap();
    let oci = t.path().join("oci");
    sh(&format!(
        "cd {t} && umoci init --layout {oci} && umoci new --image {oci}:v1 && \
         umoci unpack --image {oci}:v1 bundle >/dev/null && cp -a {src}/. bundle/rootfs/ && \
         umoci repack --image {oci}:v1 bundle >/dev/null && umoci config --image {oci}:v1 --config.user 65532",
        t = t.path().display(),
        oci = oci.display(),
        src = f.join("distroless-rootfs").display()
    ));
    let image = format!("oci:{}:v1", oci.display());
    for rule in [
        "package-manager-in-container",
        "runs-as-root",
        "build-tools",
        "latest-tag",
    ] {
        let (v, d) = verdict_with(&image, rule, ALL, |_| {});
        assert_eq!(v, Verdict::Pass, "{rule}: {d}");
    }
    let (v, _) = verdict_with(
        &format!("oci:{}", f.join("bookworm-oci").display()),
        "package-manager-in-container",
        ALL,
        |_| {},
    );
    assert_eq!(v, Verdict::Fail);
}

/// Run a command and return its trimmed stdout.
fn output(cmd: &str) -> String {
    let out = Command::new("bash").args(["-c", cmd]).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn vm_disks_built_here_fstab_bootloader_discard() {
    let t = tempfile::tempdir().unwrap();
    let shim = "mkdir -p sbin lib/systemd etc/systemd/system/timers.target.wants && printf '\\177ELF' > lib/systemd/systemd && ln -sf /lib/systemd/systemd sbin/init";
    let good = variant(
        t.path(),
        "alpine-rootfs",
        "good",
        &format!(
            "{shim} && printf 'UUID=0a1b2c3d-1111-2222-3333-444455556666 / ext4 noatime,discard 0 1\\nLABEL=root /srv ext4 defaults 0 2\\n/dev/sdz9 /scratch ext4 defaults,nofail 0 2\\nproc /proc proc defaults 0 0\\n' > etc/fstab && \
             mkdir -p boot/grub && printf 'linux /boot/vmlinuz root=UUID=0a1b2c3d-1111-2222-3333-444455556666 console=ttyS0\\n' > boot/grub/grub.cfg && \
             ln -s /lib/systemd/system/fstrim.timer etc/systemd/system/timers.target.wants/fstrim.timer"
        ),
    );
    let bad = variant(
        t.path(),
        "alpine-rootfs",
        "bad",
        &format!(
            "{shim} && printf 'UUID=deadbeef-0000-0000-0000-000000000000 / ext4 defaults 0 1\\n/dev/sda1 /data ext4 defaults 0 2\\n' > etc/fstab"
        ),
    );
    let disk = |tree: &Path, name: &str| {
        let d = t.path().join(name);
        sh(&format!(
            "truncate -s 64M {d} && mkfs.ext4 -q -F -U 0a1b2c3d-1111-2222-3333-444455556666 -L root -d {s} {d}",
            d = d.display(),
            s = tree.display()
        ));
        d
    };
    let (good_disk, bad_disk) = (disk(&good, "good.raw"), disk(&bad, "bad.raw"));
    // The identity the rule matches against is what blkid reads.
    let tree = open(good_disk.to_str().unwrap(), &OpenOptions::default()).unwrap();
    let p = &tree.info().disk.as_ref().unwrap().selected;
    assert_eq!(
        p.fs_uuid.as_deref(),
        Some(output(&format!("blkid -o value -s UUID {}", good_disk.display())).as_str())
    );
    assert_eq!(
        p.fs_label.as_deref(),
        Some(output(&format!("blkid -o value -s LABEL {}", good_disk.display())).as_str())
    );
    for rule in ["vm-fstab-resolves", "vm-bootloader", "vm-discard"] {
        expect(&good_disk, rule, ALL, Verdict::Pass);
        expect(&bad_disk, rule, ALL, Verdict::Fail);
    }
    let (_, d) = verdict(&bad_disk, "vm-fstab-resolves", ALL);
    assert!(d.contains("deadbeef") && d.contains("/dev/sda1"), "{d}");
}

#[test]
fn gpt_partition_uuids_are_what_sgdisk_reads() {
    let raw = fixtures().join("bookworm-gpt.raw");
    let tree = open(&format!("disk:{}", raw.display()), &OpenOptions::default()).unwrap();
    let disk = tree.info().disk.as_ref().unwrap();
    for p in &disk.partitions {
        let want = output(&format!(
            "sgdisk -i {} {} | sed -n 's/^Partition unique GUID: //p'",
            p.number,
            raw.display()
        ));
        assert_eq!(
            p.part_uuid.as_deref().map(str::to_ascii_uppercase),
            Some(want),
            "partition {}",
            p.number
        );
    }
    let root = &disk.selected;
    let blkid = output(&format!(
        "blkid -o value -s UUID --probe --offset {} {}",
        root.start,
        raw.display()
    ));
    assert_eq!(root.fs_uuid.as_deref(), Some(blkid.as_str()));
}
