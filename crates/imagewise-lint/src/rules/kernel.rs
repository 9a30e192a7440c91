//! Kernel and hardening: mandatory access control, FIPS where asked, sysctl hardening in the
//! image's sysctl.d, and the configuration of a kernel the image carries.
//!
//! sysctl rules judge what the image sets at boot; a key it does not set keeps the kernel's
//! default, which each rule names. They apply to images that boot (VM disks and root
//! filesystems with an init system): a container's sysctls belong to its host.

use imagewise_facts::ImageKind;
use imagewise_types::Level;

use super::NO_REFS;
use crate::context::Ctx;
use crate::rule::{Family, Outcome, Refs, Rule, Target};

const MACHINES: &[Target] = &[Target::Vm, Target::Rootfs];
const SYSTEM: &[ImageKind] = &[ImageKind::System];

macro_rules! sysctl_rule {
    ($id:literal, $title:literal, $level:expr, $profiles:expr, $why:literal, $fix:literal, $ssg:literal, $cis:expr, $f:ident) => {
        Rule {
            id: $id,
            title: $title,
            level: $level,
            family: Family::Kernel,
            targets: MACHINES,
            kinds: SYSTEM,
            profiles: $profiles,
            why: $why,
            fix: $fix,
            refs: Refs {
                cis: $cis,
                ssg: &[$ssg],
                lynis: &["KRNL-6000"],
                ..NO_REFS
            },
            check: $f,
        }
    };
}

pub(crate) const RULES: &[Rule] = &[
    Rule {
        id: "release-end-of-support",
        title: "the distribution release is past its end of support",
        level: Level::High,
        family: Family::Kernel,
        targets: &[],
        kinds: &[],
        profiles: &["baseline", "cis-container", "cis-host"],
        why: "A release past its end of support gets no security updates: every vulnerability found from then on stays open, whatever else is hardened.",
        fix: "Rebuild on a supported release (`imagewise lifecycle` lists them), or buy extended support and record it in a lifecycle file (--lifecycle).",
        refs: NO_REFS,
        check: release_end_of_support,
    },
    Rule {
        id: "mac-absent",
        title: "no mandatory access control (AppArmor or SELinux)",
        level: Level::Low,
        family: Family::Kernel,
        targets: MACHINES,
        kinds: SYSTEM,
        profiles: &["cis-host"],
        why: "Without AppArmor or SELinux a compromised service can touch everything its user can; MAC profiles confine it to what it needs.",
        fix: "apt-get install apparmor apparmor-profiles (Debian/Ubuntu), or keep SELinux enforcing (RHEL, Fedora).",
        refs: Refs {
            cis: &["Debian 11 v1.0.0 1.6.1.1"],
            ..NO_REFS
        },
        check: mac_absent,
    },
    Rule {
        id: "selinux-not-enforcing",
        title: "SELinux is configured but not enforcing",
        level: Level::Medium,
        family: Family::Kernel,
        targets: MACHINES,
        kinds: SYSTEM,
        profiles: &["baseline", "cis-host", "vm"],
        why: "Permissive SELinux only logs what it would block; disabled SELinux also stops labelling files, so turning it back on later needs a full relabel.",
        fix: "Set SELINUX=enforcing in /etc/selinux/config (and fix the denials the audit log shows).",
        refs: NO_REFS,
        check: selinux_not_enforcing,
    },
    Rule {
        id: "fips-mode",
        title: "FIPS mode is not switched on",
        level: Level::High,
        family: Family::Kernel,
        targets: MACHINES,
        kinds: SYSTEM,
        profiles: &[],
        why: "Where FIPS 140 is required (US federal work, some finance), only validated crypto modules in FIPS mode may be used; enable this rule in a profile for those images.",
        fix: "RHEL: fips-mode-setup --enable; Ubuntu Pro: pro enable fips; add fips=1 to the kernel command line.",
        refs: NO_REFS,
        check: fips_mode,
    },
    sysctl_rule!(
        "sysctl-kptr-restrict",
        "kernel pointers are shown to unprivileged users",
        Level::Low,
        &["cis-host"],
        "Kernel addresses in /proc (kallsyms, modules) defeat KASLR for a local attacker writing an exploit.",
        "echo 'kernel.kptr_restrict = 1' > /etc/sysctl.d/60-hardening.conf",
        "sysctl_kernel_kptr_restrict",
        &[],
        kptr_restrict
    ),
    sysctl_rule!(
        "sysctl-dmesg-restrict",
        "unprivileged users can read the kernel log",
        Level::Low,
        &["cis-host"],
        "The kernel log leaks addresses and hardware details useful to a local exploit.",
        "echo 'kernel.dmesg_restrict = 1' > /etc/sysctl.d/60-hardening.conf",
        "sysctl_kernel_dmesg_restrict",
        &[],
        dmesg_restrict
    ),
    sysctl_rule!(
        "sysctl-rp-filter",
        "reverse-path filtering is off",
        Level::Low,
        &["cis-host"],
        "Without rp_filter the machine accepts packets with spoofed source addresses on any interface.",
        "echo 'net.ipv4.conf.all.rp_filter = 1' > /etc/sysctl.d/60-hardening.conf",
        "sysctl_net_ipv4_conf_all_rp_filter",
        &["Debian 11 v1.0.0 3.3.7"],
        rp_filter
    ),
    sysctl_rule!(
        "sysctl-accept-redirects",
        "ICMP redirects are accepted",
        Level::Low,
        &["cis-host"],
        "An ICMP redirect from anyone on the link can reroute the machine's traffic through them.",
        "printf 'net.ipv4.conf.all.accept_redirects = 0\\nnet.ipv4.conf.default.accept_redirects = 0\\n' > /etc/sysctl.d/60-hardening.conf",
        "sysctl_net_ipv4_conf_all_accept_redirects",
        &["Debian 11 v1.0.0 3.3.2"],
        accept_redirects
    ),
    sysctl_rule!(
        "sysctl-send-redirects",
        "the machine sends ICMP redirects",
        Level::Low,
        &["cis-host"],
        "Only routers should send redirects; a host that does can be used to mislead its neighbours.",
        "printf 'net.ipv4.conf.all.send_redirects = 0\\nnet.ipv4.conf.default.send_redirects = 0\\n' > /etc/sysctl.d/60-hardening.conf",
        "sysctl_net_ipv4_conf_all_send_redirects",
        &["Debian 11 v1.0.0 3.2.1"],
        send_redirects
    ),
    sysctl_rule!(
        "sysctl-syncookies",
        "TCP SYN cookies are off",
        Level::Medium,
        &["baseline", "cis-host", "web"],
        "Without SYN cookies a SYN flood fills the backlog and the machine stops accepting connections.",
        "echo 'net.ipv4.tcp_syncookies = 1' > /etc/sysctl.d/60-hardening.conf",
        "sysctl_net_ipv4_tcp_syncookies",
        &["Debian 11 v1.0.0 3.3.8"],
        syncookies
    ),
    Rule {
        id: "kernel-cgroup-bpf",
        title: "the kernel lacks cgroup v2 controllers or BPF",
        level: Level::Medium,
        family: Family::Kernel,
        targets: MACHINES,
        kinds: SYSTEM,
        profiles: &["batch", "vm"],
        why: "Container runtimes, systemd resource control and eBPF observability need cgroup v2 with the memory controller and the bpf() syscall; without them limits and tracing silently do nothing.",
        fix: "Use a distribution kernel (linux-image-cloud-amd64, kernel-core) or build with CONFIG_CGROUPS, CONFIG_MEMCG, CONFIG_CGROUP_BPF, CONFIG_BPF_SYSCALL.",
        refs: NO_REFS,
        check: kernel_cgroup_bpf,
    },
    Rule {
        id: "kernel-virtio",
        title: "the kernel lacks virtio drivers",
        level: Level::High,
        family: Family::Kernel,
        targets: &[Target::Vm],
        kinds: SYSTEM,
        profiles: &["baseline", "vm"],
        why: "Without virtio block, network and PCI drivers the disk boots on no KVM-based cloud (it cannot see its own disk or network).",
        fix: "Install a cloud kernel (linux-image-cloud-amd64) or one built with CONFIG_VIRTIO_PCI, CONFIG_VIRTIO_BLK, CONFIG_VIRTIO_NET (y or m, with the modules in the initramfs).",
        refs: NO_REFS,
        check: kernel_virtio,
    },
];

fn release_end_of_support(ctx: &Ctx<'_>) -> Outcome {
    use imagewise_facts::SupportStatus as S;
    let os = &ctx.facts.os;
    let Some(w) = &os.support else {
        return Outcome::Unknown(match &os.id {
            Some(id) => format!(
                "the lifecycle table has no row for {id} {}",
                os.version_id.as_deref().unwrap_or("")
            ),
            None => "the distribution is unknown (no os-release)".into(),
        });
    };
    match w.status {
        S::Supported | S::Extended | S::Rolling => Outcome::Pass,
        S::Unreleased => Outcome::Unknown(format!(
            "{} {} is not released: a testing distribution has no security support promise",
            w.distro, w.release
        )),
        S::Unknown => Outcome::Unknown(format!(
            "no end of support published for {} {}",
            w.distro, w.release
        )),
        S::Ended => Outcome::Fail(vec![format!(
            "{} {}: standard support ended {}{} (source: {})",
            w.distro,
            w.release,
            w.end_of_life.as_deref().unwrap_or("?"),
            match (&w.extended, &w.extended_end) {
                (Some(k), Some(e)) => format!(", {k} ended {e}"),
                _ => String::new(),
            },
            w.source
        )]),
    }
}

fn mac_absent(ctx: &Ctx<'_>) -> Outcome {
    let s = &ctx.facts.security;
    if s.apparmor.is_some() || s.selinux.is_some() {
        Outcome::Pass
    } else {
        Outcome::Fail(vec![
            "no AppArmor (no /etc/apparmor.d profiles, no apparmor_parser) and no /etc/selinux/config".into(),
        ])
    }
}

fn selinux_not_enforcing(ctx: &Ctx<'_>) -> Outcome {
    match ctx.facts.security.selinux.as_deref() {
        None => Outcome::NotApplicable("no /etc/selinux/config".into()),
        Some("enforcing") => Outcome::Pass,
        Some(m) => Outcome::Fail(vec![format!("SELINUX={m} in /etc/selinux/config")]),
    }
}

fn fips_mode(ctx: &Ctx<'_>) -> Outcome {
    if ctx.facts.security.fips {
        Outcome::Pass
    } else {
        Outcome::Fail(vec![
            "no /etc/system-fips, no FIPS crypto policy, no fips=1 on the kernel command line"
                .into(),
        ])
    }
}

/// How a sysctl value must compare.
enum Want {
    AtLeast(i64),
    AtMost(i64),
    OneOf(&'static [i64]),
}

/// Judge sysctl keys (all must hold); `default` is the kernel's value when the image sets none.
fn sysctl_keys(ctx: &Ctx<'_>, keys: &[(&str, Want, Option<i64>)]) -> Outcome {
    let (set, problems) = ctx.sysctl();
    let mut bad = Vec::new();
    for (key, want, default) in keys {
        let (value, from) = match set.get(*key) {
            Some(s) => match s.value.parse::<i64>() {
                Ok(v) => (v, format!("{key} = {} in {}", s.value, s.file)),
                Err(_) => {
                    bad.push(format!(
                        "{key} = {:?} in {} is not a number",
                        s.value, s.file
                    ));
                    continue;
                }
            },
            None => match default {
                Some(d) if *d == i64::MAX => (*d, format!("{key} not set (the kernel sizes it)")),
                Some(d) => (*d, format!("{key} not set (kernel default {d})")),
                None => {
                    bad.push(format!(
                        "{key} not set, and the kernel default does not meet the rule"
                    ));
                    continue;
                }
            },
        };
        let ok = match want {
            Want::AtLeast(n) => value >= *n,
            Want::AtMost(n) => value <= *n,
            Want::OneOf(v) => v.contains(&value),
        };
        if !ok {
            let need = match want {
                Want::AtLeast(n) => format!("want at least {n}"),
                Want::AtMost(n) => format!("want at most {n}"),
                Want::OneOf(v) => format!(
                    "want {}",
                    v.iter()
                        .map(i64::to_string)
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            };
            bad.push(format!("{from}; {need}"));
        }
    }
    let problems: Vec<String> = problems
        .iter()
        .map(|p| format!("sysctl files could not all be read: {p}"))
        .collect();
    Outcome::judged(bad, &problems)
}

pub(crate) fn sysctl_at_least(ctx: &Ctx<'_>, key: &str, min: i64, default: Option<i64>) -> Outcome {
    sysctl_keys(ctx, &[(key, Want::AtLeast(min), default)])
}

pub(crate) fn sysctl_at_most(ctx: &Ctx<'_>, key: &str, max: i64, default: Option<i64>) -> Outcome {
    sysctl_keys(ctx, &[(key, Want::AtMost(max), default)])
}

pub(crate) fn sysctl_one_of(
    ctx: &Ctx<'_>,
    key: &str,
    values: &'static [i64],
    default: Option<i64>,
) -> Outcome {
    sysctl_keys(ctx, &[(key, Want::OneOf(values), default)])
}

fn kptr_restrict(ctx: &Ctx<'_>) -> Outcome {
    sysctl_at_least(ctx, "kernel.kptr_restrict", 1, Some(0))
}

fn dmesg_restrict(ctx: &Ctx<'_>) -> Outcome {
    // The default is the kernel's CONFIG_SECURITY_DMESG_RESTRICT, where the image says.
    let default = ctx.facts.kernel.kernels.first().map(|k| {
        i64::from(
            k.config
                .get("CONFIG_SECURITY_DMESG_RESTRICT")
                .is_some_and(|v| v == "y"),
        )
    });
    sysctl_one_of(ctx, "kernel.dmesg_restrict", &[1], default)
}

fn rp_filter(ctx: &Ctx<'_>) -> Outcome {
    sysctl_one_of(ctx, "net.ipv4.conf.all.rp_filter", &[1], Some(0))
}

fn accept_redirects(ctx: &Ctx<'_>) -> Outcome {
    sysctl_keys(
        ctx,
        &[
            (
                "net.ipv4.conf.all.accept_redirects",
                Want::OneOf(&[0]),
                Some(1),
            ),
            (
                "net.ipv4.conf.default.accept_redirects",
                Want::OneOf(&[0]),
                Some(1),
            ),
        ],
    )
}

fn send_redirects(ctx: &Ctx<'_>) -> Outcome {
    sysctl_keys(
        ctx,
        &[
            (
                "net.ipv4.conf.all.send_redirects",
                Want::OneOf(&[0]),
                Some(1),
            ),
            (
                "net.ipv4.conf.default.send_redirects",
                Want::OneOf(&[0]),
                Some(1),
            ),
        ],
    )
}

fn syncookies(ctx: &Ctx<'_>) -> Outcome {
    sysctl_one_of(ctx, "net.ipv4.tcp_syncookies", &[1, 2], Some(1))
}

/// Config options of the image's kernels that are missing: `None` when it carries no kernel
/// config.
fn kernel_missing(ctx: &Ctx<'_>, options: &[&str]) -> Option<Vec<String>> {
    let kernels: Vec<_> = ctx
        .facts
        .kernel
        .kernels
        .iter()
        .filter(|k| !k.config.is_empty())
        .collect();
    if kernels.is_empty() {
        return None;
    }
    let mut bad = Vec::new();
    for k in kernels {
        for o in options {
            let v = k.config.get(*o).map(String::as_str);
            if !matches!(v, Some("y" | "m")) {
                bad.push(format!("{}: {o} is {}", k.version, v.unwrap_or("not set")));
            }
        }
    }
    Some(bad)
}

fn kernel_rule(ctx: &Ctx<'_>, options: &[&str]) -> Outcome {
    match kernel_missing(ctx, options) {
        None if ctx.facts.kernel.kernels.is_empty() => {
            Outcome::NotApplicable("the image carries no kernel".into())
        }
        None => Outcome::Unknown("the image's kernel has no config file to judge".into()),
        Some(bad) if bad.is_empty() => Outcome::Pass,
        Some(bad) => Outcome::Fail(bad),
    }
}

fn kernel_cgroup_bpf(ctx: &Ctx<'_>) -> Outcome {
    kernel_rule(
        ctx,
        &[
            "CONFIG_CGROUPS",
            "CONFIG_MEMCG",
            "CONFIG_CGROUP_BPF",
            "CONFIG_BPF_SYSCALL",
        ],
    )
}

fn kernel_virtio(ctx: &Ctx<'_>) -> Outcome {
    kernel_rule(
        ctx,
        &[
            "CONFIG_VIRTIO_PCI",
            "CONFIG_VIRTIO_BLK",
            "CONFIG_VIRTIO_NET",
        ],
    )
}
