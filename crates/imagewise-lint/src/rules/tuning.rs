//! Tuning for a workload (profiles `web`, `db`, `cache`, `batch`): listen backlogs, TIME-WAIT
//! reuse, open-file limits, swappiness, transparent huge pages, atime and discard in fstab.
//! Thresholds are profile settings (`somaxconn_min`, `syn_backlog_min`, `nofile_min`,
//! `swappiness_max`).

use imagewise_facts::ImageKind;
use imagewise_types::Level;

use super::kernel::{sysctl_at_least, sysctl_at_most, sysctl_one_of};
use super::NO_REFS;
use crate::conf;
use crate::context::Ctx;
use crate::rule::{Family, Outcome, Rule, Target};

const MACHINES: &[Target] = &[Target::Vm, Target::Rootfs];
const SYSTEM: &[ImageKind] = &[ImageKind::System];

pub(crate) const RULES: &[Rule] = &[
    Rule {
        id: "tune-somaxconn",
        title: "the listen backlog limit is low",
        level: Level::Medium,
        family: Family::Tuning,
        targets: MACHINES,
        kinds: SYSTEM,
        profiles: &["web", "cache"],
        why: "net.core.somaxconn caps every listen() backlog; under a burst, connections beyond it are dropped and clients see timeouts.",
        fix: "echo 'net.core.somaxconn = 4096' > /etc/sysctl.d/60-tuning.conf (and raise the server's own backlog setting)",
        refs: NO_REFS,
        check: somaxconn,
    },
    Rule {
        id: "tune-syn-backlog",
        title: "the SYN backlog is small",
        level: Level::Low,
        family: Family::Tuning,
        targets: MACHINES,
        kinds: SYSTEM,
        profiles: &["web"],
        why: "tcp_max_syn_backlog bounds half-open connections; the default (128 to 1024, by memory) drops new connections under load spikes.",
        fix: "echo 'net.ipv4.tcp_max_syn_backlog = 4096' > /etc/sysctl.d/60-tuning.conf",
        refs: NO_REFS,
        check: syn_backlog,
    },
    Rule {
        id: "tune-tw-reuse",
        title: "TIME-WAIT sockets are not reused for outgoing connections",
        level: Level::Low,
        family: Family::Tuning,
        targets: MACHINES,
        kinds: SYSTEM,
        profiles: &["web"],
        why: "A tier that opens many short outgoing connections (to a database, an upstream) runs out of local ports in TIME-WAIT.",
        fix: "echo 'net.ipv4.tcp_tw_reuse = 1' > /etc/sysctl.d/60-tuning.conf",
        refs: NO_REFS,
        check: tw_reuse,
    },
    Rule {
        id: "tune-tw-buckets",
        title: "few TIME-WAIT buckets",
        level: Level::Low,
        family: Family::Tuning,
        targets: MACHINES,
        kinds: SYSTEM,
        profiles: &["web"],
        why: "Past tcp_max_tw_buckets the kernel destroys TIME-WAIT sockets early (`time wait bucket table overflow`), and late packets of old connections can reach new ones; the default scales with memory and is small on small VMs.",
        fix: "echo 'net.ipv4.tcp_max_tw_buckets = 262144' > /etc/sysctl.d/60-tuning.conf",
        refs: NO_REFS,
        check: tw_buckets,
    },
    Rule {
        id: "tune-file-max",
        title: "the system-wide open-file limit is set low",
        level: Level::Medium,
        family: Family::Tuning,
        targets: MACHINES,
        kinds: SYSTEM,
        profiles: &["web", "db", "cache"],
        why: "fs.file-max caps open files across all processes; set below what the services' nofile limits add up to, the whole machine fails with ENFILE under load.",
        fix: "Remove the fs.file-max line (the kernel's default scales with memory) or raise it: echo 'fs.file-max = 2097152' > /etc/sysctl.d/60-tuning.conf",
        refs: NO_REFS,
        check: file_max,
    },
    Rule {
        id: "tune-nofile",
        title: "the open-files limit is low",
        level: Level::Medium,
        family: Family::Tuning,
        targets: MACHINES,
        kinds: SYSTEM,
        profiles: &["web", "db", "cache"],
        why: "Each connection and file is a descriptor; at the default soft limit of 1024 a busy server fails with EMFILE (`Too many open files`).",
        fix: "Set `DefaultLimitNOFILE=65536` in /etc/systemd/system.conf.d/limits.conf (services) and `* soft nofile 65536` in /etc/security/limits.d/ (logins), or LimitNOFILE= in the service's unit.",
        refs: NO_REFS,
        check: nofile,
    },
    Rule {
        id: "tune-swappiness",
        title: "the kernel swaps eagerly",
        level: Level::Low,
        family: Family::Tuning,
        targets: MACHINES,
        kinds: SYSTEM,
        profiles: &["db", "cache"],
        why: "With vm.swappiness 60 the kernel pages out a database's or cache's cold heap to keep page cache, and the next query stalls on disk.",
        fix: "echo 'vm.swappiness = 1' > /etc/sysctl.d/60-tuning.conf",
        refs: NO_REFS,
        check: swappiness,
    },
    Rule {
        id: "tune-thp",
        title: "transparent huge pages are always on",
        level: Level::Low,
        family: Family::Tuning,
        targets: MACHINES,
        kinds: SYSTEM,
        profiles: &["db", "cache"],
        why: "THP `always` makes Redis, MongoDB, PostgreSQL and others stall on compaction and bloat memory on fork; their docs ask for `madvise` or `never`.",
        fix: "Add transparent_hugepage=madvise to GRUB_CMDLINE_LINUX in /etc/default/grub (then update-grub), or a tmpfiles.d line writing madvise to /sys/kernel/mm/transparent_hugepage/enabled.",
        refs: NO_REFS,
        check: thp,
    },
    Rule {
        id: "tune-io-scheduler",
        title: "a fairness I/O scheduler for database disks",
        level: Level::Low,
        family: Family::Tuning,
        targets: MACHINES,
        kinds: SYSTEM,
        profiles: &["db"],
        why: "bfq (and the old cfq) trade throughput and latency for per-process fairness; a database on virtio or NVMe wants none or mq-deadline, the kernel's own defaults there.",
        fix: "Remove the udev rule or `elevator=` that picks bfq/cfq, or set it explicitly: ACTION==\"add|change\", KERNEL==\"vd[a-z]|nvme[0-9]n[0-9]\", ATTR{queue/scheduler}=\"none\" in /etc/udev/rules.d/60-scheduler.rules.",
        refs: NO_REFS,
        check: io_scheduler,
    },
    Rule {
        id: "tune-noatime",
        title: "data filesystems record access times",
        level: Level::Low,
        family: Family::Tuning,
        targets: MACHINES,
        kinds: SYSTEM,
        profiles: &["db"],
        why: "Every read then also writes an inode update; on a database's data directory that is needless write load (relatime still writes once a day per file).",
        fix: "Add noatime to the options of / and the data filesystems in /etc/fstab.",
        refs: NO_REFS,
        check: noatime,
    },
    Rule {
        id: "vm-discard",
        title: "freed blocks are never given back to the disk",
        level: Level::Low,
        family: Family::Vm,
        targets: &[Target::Vm],
        kinds: SYSTEM,
        profiles: &["vm"],
        why: "Without discard or a periodic fstrim a thin-provisioned VM disk only grows: deleted data keeps costing storage on the host.",
        fix: "systemctl enable fstrim.timer (or add discard to the fstab options).",
        refs: NO_REFS,
        check: discard,
    },
];

fn somaxconn(ctx: &Ctx<'_>) -> Outcome {
    // 4096 since Linux 5.4, 128 before; the image's own kernel decides where it has one.
    let default = kernel_at_least(ctx, 5, 4).map(|new| if new { 4096 } else { 128 });
    sysctl_at_least(
        ctx,
        "net.core.somaxconn",
        ctx.setting_int("somaxconn_min"),
        default,
    )
}

fn syn_backlog(ctx: &Ctx<'_>) -> Outcome {
    sysctl_at_least(
        ctx,
        "net.ipv4.tcp_max_syn_backlog",
        ctx.setting_int("syn_backlog_min"),
        None,
    )
}

fn tw_reuse(ctx: &Ctx<'_>) -> Outcome {
    // The default 2 reuses TIME-WAIT for loopback only.
    sysctl_one_of(ctx, "net.ipv4.tcp_tw_reuse", &[1], Some(2))
}

fn tw_buckets(ctx: &Ctx<'_>) -> Outcome {
    // The default is half the TCP established hash, sized from memory at boot: unknown here.
    sysctl_at_least(
        ctx,
        "net.ipv4.tcp_max_tw_buckets",
        ctx.setting_int("tw_buckets_min"),
        None,
    )
}

fn file_max(ctx: &Ctx<'_>) -> Outcome {
    // Unset, the kernel sizes it from memory (about 100k per GiB): only a low setting fails.
    sysctl_at_least(
        ctx,
        "fs.file-max",
        ctx.setting_int("file_max_min"),
        Some(i64::MAX),
    )
}

fn swappiness(ctx: &Ctx<'_>) -> Outcome {
    sysctl_at_most(
        ctx,
        "vm.swappiness",
        ctx.setting_int("swappiness_max"),
        Some(60),
    )
}

/// Whether the image's (first) kernel is at least `major.minor`; `None` without a kernel.
fn kernel_at_least(ctx: &Ctx<'_>, major: u32, minor: u32) -> Option<bool> {
    let k = ctx.facts.kernel.kernels.first()?;
    let mut parts = k.version.split(|c: char| !c.is_ascii_digit());
    let ma: u32 = parts.next()?.parse().ok()?;
    let mi: u32 = parts.next()?.parse().ok()?;
    Some((ma, mi) >= (major, minor))
}

fn nofile(ctx: &Ctx<'_>) -> Outcome {
    let min = ctx.setting_int("nofile_min");
    let (pam, systemd, problems) = conf::nofile(ctx);
    let mut bad = Vec::new();
    let services_ok = match &systemd {
        Some((n, _)) => *n >= min,
        None => false,
    };
    if ctx.facts.init.system == "systemd" {
        match &systemd {
            Some((n, from)) if *n < min => bad.push(format!("{from}: {n}; want at least {min}")),
            Some(_) => {}
            None => bad.push(format!(
                "DefaultLimitNOFILE not set for services (systemd's default soft limit is 1024); want at least {min}"
            )),
        }
    }
    match &pam {
        Some((n, from)) if *n < min => bad.push(format!("{from}: {n}; want at least {min}")),
        Some(_) => {}
        None if !services_ok => bad.push(format!(
            "no `* soft nofile` line in /etc/security/limits.conf or limits.d (default 1024); want at least {min}"
        )),
        None => {}
    }
    Outcome::judged(bad, &problems)
}

fn thp(ctx: &Ctx<'_>) -> Outcome {
    for (w, from) in conf::kernel_cmdline(ctx) {
        if let Some(v) = w.strip_prefix("transparent_hugepage=") {
            return if v == "always" {
                Outcome::Fail(vec![format!("{w} in {from}")])
            } else {
                Outcome::Pass
            };
        }
    }
    // A boot-time write to the sysfs switch (tmpfiles.d, rc.local).
    let mut files: Vec<String> = ctx
        .children("/etc/tmpfiles.d")
        .iter()
        .map(|e| e.path.clone())
        .collect();
    files.push("/etc/rc.local".into());
    for f in &files {
        if let Ok(Some(t)) = ctx.text(f) {
            if t.lines().any(|l| {
                l.contains("transparent_hugepage/enabled")
                    && (l.contains("never") || l.contains("madvise"))
            }) {
                return Outcome::Pass;
            }
        }
    }
    let Some(k) = ctx
        .facts
        .kernel
        .kernels
        .iter()
        .find(|k| !k.config.is_empty())
    else {
        return if ctx.facts.kernel.kernels.is_empty() {
            Outcome::NotApplicable("the image carries no kernel and sets no THP mode".into())
        } else {
            Outcome::Unknown(
                "the kernel has no config file, so its THP default is not known".into(),
            )
        };
    };
    if k.config
        .get("CONFIG_TRANSPARENT_HUGEPAGE_ALWAYS")
        .is_some_and(|v| v == "y")
    {
        Outcome::Fail(vec![format!(
            "{}: CONFIG_TRANSPARENT_HUGEPAGE_ALWAYS=y and nothing in the image changes it",
            k.version
        )])
    } else {
        Outcome::Pass
    }
}

fn io_scheduler(ctx: &Ctx<'_>) -> Outcome {
    let slow = ["bfq", "cfq"];
    let mut bad = Vec::new();
    for e in ctx.children("/etc/udev/rules.d") {
        if !e.path.ends_with(".rules") {
            continue;
        }
        let text = match ctx.text(&e.path) {
            Ok(Some(t)) => t,
            Ok(None) => continue,
            Err(why) => return Outcome::Unknown(why),
        };
        for line in text.lines().map(str::trim).filter(|l| !l.starts_with('#')) {
            // ATTR{queue/scheduler}="bfq" (an assignment, not the == match).
            if let Some(rest) = line.split("ATTR{queue/scheduler}").nth(1) {
                let rest = rest.trim_start();
                if let Some(v) = rest.strip_prefix('=').filter(|r| !r.starts_with('=')) {
                    let v = v.trim().trim_matches(|c| c == '"' || c == ',');
                    let v = v.split('"').next().unwrap_or(v);
                    if slow.contains(&v) {
                        bad.push(format!("{}: {line:.120}", e.path));
                    }
                }
            }
        }
    }
    for (w, from) in conf::kernel_cmdline(ctx) {
        if let Some(v) = w.strip_prefix("elevator=") {
            if slow.contains(&v) {
                bad.push(format!("{w} in {from}"));
            }
        }
    }
    Outcome::failures(bad)
}

/// fstab entries of disk filesystems (not swap, proc, tmpfs, bind mounts).
fn disk_mounts(ctx: &Ctx<'_>) -> Result<Vec<conf::Mount>, Outcome> {
    let text = ctx.judged_text("/etc/fstab")?;
    let disks: Vec<conf::Mount> = conf::fstab(&text)
        .into_iter()
        .filter(|m| {
            ["ext2", "ext3", "ext4", "xfs", "btrfs", "f2fs"].contains(&m.fstype.as_str())
                && !m.options.iter().any(|o| o == "bind")
        })
        .collect();
    if disks.is_empty() {
        return Err(Outcome::NotApplicable(
            "/etc/fstab names no disk filesystem".into(),
        ));
    }
    Ok(disks)
}

fn noatime(ctx: &Ctx<'_>) -> Outcome {
    let disks = match disk_mounts(ctx) {
        Ok(d) => d,
        Err(o) => return o,
    };
    let bad: Vec<String> = disks
        .iter()
        .filter(|m| !m.options.iter().any(|o| o == "noatime"))
        .map(|m| {
            format!(
                "{} ({} {}, options {})",
                m.dir,
                m.spec,
                m.fstype,
                m.options.join(",")
            )
        })
        .collect();
    Outcome::failures(bad)
}

fn discard(ctx: &Ctx<'_>) -> Outcome {
    let disks = match disk_mounts(ctx) {
        Ok(d) => d,
        Err(o) => return o,
    };
    if ctx.enabled("fstrim.timer")
        || disks
            .iter()
            .all(|m| m.options.iter().any(|o| o == "discard"))
    {
        Outcome::Pass
    } else {
        Outcome::Fail(vec![
            "fstrim.timer is not enabled and not every filesystem is mounted with discard".into(),
        ])
    }
}
