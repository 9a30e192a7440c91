//! VM disks: what a disk needs to boot and be managed in a cloud — cloud-init or the platform's
//! agent, the QEMU guest agent, a kernel with an initramfs, a bootloader, a serial console.

use imagewise_facts::ImageKind;
use imagewise_types::Level;

use super::NO_REFS;
use crate::conf;
use crate::context::Ctx;
use crate::rule::{Family, Outcome, Rule, Target};

const VM: &[Target] = &[Target::Vm];
const SYSTEM: &[ImageKind] = &[ImageKind::System];

pub(crate) const RULES: &[Rule] = &[
    Rule {
        id: "vm-cloud-init",
        title: "no cloud-init or platform agent enabled",
        level: Level::Medium,
        family: Family::Vm,
        targets: VM,
        kinds: SYSTEM,
        profiles: &["baseline", "vm"],
        why: "Without cloud-init (or the cloud's own agent) a new VM gets no hostname, SSH keys, network config or user data: it boots, but nobody can log in.",
        fix: "apt-get install cloud-init (or the platform's agent: walinuxagent, google-guest-agent) and leave its services enabled.",
        refs: NO_REFS,
        check: cloud_init,
    },
    Rule {
        id: "vm-guest-agent",
        title: "no QEMU guest agent",
        level: Level::Low,
        family: Family::Vm,
        targets: VM,
        kinds: SYSTEM,
        profiles: &["vm"],
        why: "Without qemu-guest-agent the hypervisor cannot freeze filesystems for consistent snapshots, shut the guest down cleanly, or read its addresses.",
        fix: "apt-get install qemu-guest-agent (it starts when the virtio-serial port appears).",
        refs: NO_REFS,
        check: guest_agent,
    },
    Rule {
        id: "vm-kernel",
        title: "no kernel or no initramfs",
        level: Level::High,
        family: Family::Vm,
        targets: VM,
        kinds: &[],
        profiles: &["baseline", "vm"],
        why: "A disk without a kernel and an initramfs in /boot cannot boot on its own.",
        fix: "apt-get install linux-image-cloud-amd64 (it builds the initramfs), or dnf install kernel.",
        refs: NO_REFS,
        check: kernel,
    },
    Rule {
        id: "vm-bootloader",
        title: "no bootloader",
        level: Level::High,
        family: Family::Vm,
        targets: VM,
        kinds: &[],
        profiles: &["baseline", "vm"],
        why: "Without GRUB, systemd-boot or extlinux installed the firmware finds nothing to start.",
        fix: "apt-get install grub-efi-amd64 (or grub-pc for BIOS) and run grub-install and update-grub for the disk.",
        refs: NO_REFS,
        check: bootloader,
    },
    Rule {
        id: "vm-fstab-resolves",
        title: "fstab names filesystems the disk does not have",
        level: Level::High,
        family: Family::Vm,
        targets: VM,
        kinds: &[],
        profiles: &["baseline", "vm"],
        why: "A mount that cannot be found at boot drops the machine into an emergency shell (or waits 90 s per entry) — a disk rebuilt with new UUIDs, or one that names /dev/sda1 where the cloud shows /dev/vda1.",
        fix: "Name filesystems by UUID= or LABEL= as `blkid` shows them on this disk, and add nofail to optional mounts.",
        refs: NO_REFS,
        check: fstab_resolves,
    },
    Rule {
        id: "vm-serial-console",
        title: "no serial console on the kernel command line",
        level: Level::Low,
        family: Family::Vm,
        targets: VM,
        kinds: SYSTEM,
        profiles: &["vm"],
        why: "Clouds show a VM's boot log and emergency shell only through its serial port; without console=ttyS0 a VM that fails to boot is a black box.",
        fix: "Add `console=tty0 console=ttyS0,115200` to GRUB_CMDLINE_LINUX in /etc/default/grub, then update-grub.",
        refs: NO_REFS,
        check: serial_console,
    },
];

fn agent_enabled(ctx: &Ctx<'_>, names: &[&str]) -> Option<String> {
    ctx.facts
        .agents
        .iter()
        .find(|a| names.contains(&a.name.as_str()) && a.enabled)
        .map(|a| a.name.clone())
}

fn cloud_init(ctx: &Ctx<'_>) -> Outcome {
    let names = [
        "cloud-init",
        "waagent",
        "google-guest-agent",
        "amazon-ssm-agent",
        "open-vm-tools",
        "ignition",
    ];
    if agent_enabled(ctx, &names).is_some() || ctx.enabled("cloud-init") {
        return Outcome::Pass;
    }
    let present: Vec<&str> = ctx
        .facts
        .agents
        .iter()
        .filter(|a| names.contains(&a.name.as_str()))
        .map(|a| a.name.as_str())
        .collect();
    Outcome::Fail(vec![if present.is_empty() {
        "none of cloud-init, waagent, google-guest-agent, amazon-ssm-agent, open-vm-tools is installed".into()
    } else {
        format!("{} installed but not enabled", present.join(", "))
    }])
}

fn guest_agent(ctx: &Ctx<'_>) -> Outcome {
    if ctx
        .facts
        .agents
        .iter()
        .any(|a| a.name == "qemu-guest-agent")
        || ctx.installed("qemu-guest-agent")
    {
        Outcome::Pass
    } else {
        Outcome::Fail(vec!["qemu-guest-agent is not installed".into()])
    }
}

fn kernel(ctx: &Ctx<'_>) -> Outcome {
    let kernels = &ctx.facts.kernel.kernels;
    let with_image: Vec<&imagewise_facts::Kernel> =
        kernels.iter().filter(|k| k.image.is_some()).collect();
    if with_image.is_empty() {
        return Outcome::Fail(vec![if kernels.is_empty() {
            "no kernel in /boot or /lib/modules".into()
        } else {
            "kernel modules but no /boot/vmlinuz".into()
        }]);
    }
    let initrd = |v: &str| {
        [
            format!("/boot/initrd.img-{v}"),
            format!("/boot/initramfs-{v}.img"),
            format!("/boot/initramfs-{v}"),
            format!("/boot/initrd-{v}"),
        ]
        .iter()
        .any(|p| ctx.exists(p))
    };
    if with_image.iter().any(|k| initrd(&k.version)) {
        Outcome::Pass
    } else {
        Outcome::Fail(
            with_image
                .iter()
                .map(|k| format!("kernel {} has no initramfs in /boot", k.version))
                .collect(),
        )
    }
}

fn bootloader(ctx: &Ctx<'_>) -> Outcome {
    let files = [
        "/boot/grub/grub.cfg",
        "/boot/grub2/grub.cfg",
        "/boot/extlinux/extlinux.conf",
        "/boot/syslinux/syslinux.cfg",
        "/boot/loader/loader.conf",
        "/efi/loader/loader.conf",
    ];
    let packages = [
        "grub-efi-amd64",
        "grub-efi-arm64",
        "grub-pc",
        "grub2-efi-x64",
        "grub2-pc",
        "systemd-boot",
        "extlinux",
        "syslinux",
        "shim-signed",
    ];
    if files.iter().any(|f| ctx.exists(f)) || packages.iter().any(|p| ctx.installed(p)) {
        Outcome::Pass
    } else {
        Outcome::Fail(vec![
            "no grub.cfg, extlinux.conf or systemd-boot loader.conf in /boot, and no bootloader package".into(),
        ])
    }
}

fn fstab_resolves(ctx: &Ctx<'_>) -> Outcome {
    let Some(disk) = ctx.tree.info().disk.as_ref() else {
        return Outcome::NotApplicable("not a disk image".into());
    };
    let text = match ctx.judged_text("/etc/fstab") {
        Ok(t) => t,
        Err(o) => return o,
    };
    let mut bad = Vec::new();
    let mut unsure = Vec::new();
    let eq = |a: &Option<String>, b: &str| a.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(b));
    for m in conf::fstab(&text) {
        if m.options.iter().any(|o| o == "nofail" || o == "noauto") {
            continue;
        }
        let spec = m.spec.as_str();
        let by = |prefix: &str, dir: &str| {
            spec.strip_prefix(prefix)
                .or_else(|| spec.strip_prefix(dir))
                .map(|v| v.trim_matches('"').to_string())
        };
        let found = if let Some(u) = by("UUID=", "/dev/disk/by-uuid/") {
            Some(disk.partitions.iter().any(|p| eq(&p.fs_uuid, &u)))
        } else if let Some(l) = by("LABEL=", "/dev/disk/by-label/") {
            Some(
                disk.partitions
                    .iter()
                    .any(|p| p.fs_label.as_deref() == Some(l.as_str())),
            )
        } else if let Some(u) = by("PARTUUID=", "/dev/disk/by-partuuid/") {
            Some(disk.partitions.iter().any(|p| eq(&p.part_uuid, &u)))
        } else if let Some(l) = by("PARTLABEL=", "/dev/disk/by-partlabel/") {
            Some(
                disk.partitions
                    .iter()
                    .any(|p| p.label.as_deref() == Some(l.as_str())),
            )
        } else if ["/dev/sd", "/dev/vd", "/dev/hd", "/dev/xvd", "/dev/nvme"]
            .iter()
            .any(|d| spec.starts_with(d))
        {
            bad.push(format!(
                "{} on {spec}: a kernel device name, which differs between hypervisors (vda, sda, xvda, nvme0n1)",
                m.dir
            ));
            continue;
        } else if spec.starts_with('/') && spec.starts_with("/dev/") {
            unsure.push(format!("{} on {spec}", m.dir));
            continue;
        } else {
            // proc, tmpfs, sysfs, network filesystems: nothing on the disk to find.
            continue;
        };
        if found == Some(false) {
            bad.push(format!(
                "{} on {spec}: no filesystem or partition of this disk has it",
                m.dir
            ));
        }
    }
    if !bad.is_empty() {
        Outcome::Fail(bad)
    } else if !unsure.is_empty() {
        Outcome::Unknown(format!(
            "devices that are not on this disk's partitions (LVM, RAID?): {}",
            unsure.join(", ")
        ))
    } else {
        Outcome::Pass
    }
}

fn serial_console(ctx: &Ctx<'_>) -> Outcome {
    let words = conf::kernel_cmdline(ctx);
    if words.is_empty() {
        return Outcome::Fail(vec![
            "no kernel command line found (/etc/default/grub, grub.cfg, /etc/kernel/cmdline)"
                .into(),
        ]);
    }
    let serial = ["ttyS", "hvc", "ttyAMA", "ttysclp"];
    if words.iter().any(|(w, _)| {
        w.strip_prefix("console=")
            .is_some_and(|c| serial.iter().any(|s| c.starts_with(s)))
    }) {
        Outcome::Pass
    } else {
        let consoles: Vec<String> = words
            .iter()
            .filter(|(w, _)| w.starts_with("console="))
            .map(|(w, f)| format!("{w} in {f}"))
            .collect();
        Outcome::Fail(if consoles.is_empty() {
            vec!["no console= on the kernel command line".into()]
        } else {
            consoles
        })
    }
}
