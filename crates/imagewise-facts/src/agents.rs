//! Cloud and hypervisor guest agents and exporters, by their packages and program files, and
//! the logging set-up worth knowing (journald storage, rsyslog remote forwarding).

use imagewise_source::ImageTree;

use crate::files::{self, Files, Wants};
use crate::report::{Agent, EnabledService, Logging, Package};

struct Probe {
    name: &'static str,
    packages: &'static [&'static str],
    paths: &'static [&'static str],
    services: &'static [&'static str],
}

const PROBES: &[Probe] = &[
    Probe {
        name: "cloud-init",
        packages: &["cloud-init"],
        paths: &["/usr/bin/cloud-init", "/etc/cloud/cloud.cfg"],
        services: &[
            "cloud-init.service",
            "cloud-init-local.service",
            "cloud-init",
            "cloud-init-local",
        ],
    },
    Probe {
        name: "qemu-guest-agent",
        packages: &["qemu-guest-agent"],
        paths: &["/usr/sbin/qemu-ga", "/usr/bin/qemu-ga"],
        services: &["qemu-guest-agent.service", "qemu-guest-agent"],
    },
    Probe {
        name: "open-vm-tools",
        packages: &["open-vm-tools"],
        paths: &["/usr/bin/vmtoolsd"],
        services: &["open-vm-tools.service", "vmtoolsd.service", "open-vm-tools"],
    },
    Probe {
        name: "waagent",
        packages: &["walinuxagent", "WALinuxAgent", "waagent"],
        paths: &["/usr/sbin/waagent", "/usr/bin/waagent"],
        services: &["walinuxagent.service", "waagent.service", "waagent"],
    },
    Probe {
        name: "amazon-ssm-agent",
        packages: &["amazon-ssm-agent"],
        paths: &["/usr/bin/amazon-ssm-agent", "/snap/amazon-ssm-agent"],
        services: &["amazon-ssm-agent.service"],
    },
    Probe {
        name: "google-guest-agent",
        packages: &["google-guest-agent"],
        paths: &["/usr/bin/google_guest_agent"],
        services: &["google-guest-agent.service"],
    },
    Probe {
        name: "hyperv-daemons",
        packages: &["hyperv-daemons", "hyperv-daemons-license"],
        paths: &["/usr/sbin/hv_kvp_daemon", "/usr/sbin/hypervkvpd"],
        services: &["hv-kvp-daemon.service", "hypervkvpd.service"],
    },
    Probe {
        name: "spice-vdagent",
        packages: &["spice-vdagent"],
        paths: &["/usr/sbin/spice-vdagentd"],
        services: &["spice-vdagentd.service"],
    },
    Probe {
        name: "node_exporter",
        packages: &[
            "prometheus-node-exporter",
            "node_exporter",
            "golang-github-prometheus-node-exporter",
        ],
        paths: &[
            "/usr/bin/node_exporter",
            "/usr/local/bin/node_exporter",
            "/usr/bin/prometheus-node-exporter",
        ],
        services: &[
            "prometheus-node-exporter.service",
            "node_exporter.service",
            "node-exporter",
        ],
    },
    Probe {
        name: "datadog-agent",
        packages: &["datadog-agent"],
        paths: &["/opt/datadog-agent/bin/agent/agent"],
        services: &["datadog-agent.service"],
    },
];

pub(crate) fn detect(
    tree: &ImageTree,
    packages: &[Package],
    enabled: &[EnabledService],
) -> Vec<Agent> {
    let mut out = Vec::new();
    for p in PROBES {
        let mut evidence: Vec<String> = p
            .paths
            .iter()
            .filter(|path| tree.resolve(path, true).is_ok())
            .map(|s| s.to_string())
            .collect();
        let pkg = packages
            .iter()
            .find(|k| p.packages.contains(&k.name.as_str()));
        if let Some(k) = pkg {
            evidence.push(format!("package {} ({})", k.name, k.ecosystem.as_str()));
        }
        if evidence.is_empty() {
            continue;
        }
        out.push(Agent {
            name: p.name.to_string(),
            evidence,
            version: pkg.map(|k| k.version.clone()),
            enabled: enabled
                .iter()
                .any(|s| p.services.contains(&s.name.as_str())),
        });
    }
    out
}

const JOURNALD: &str = "/etc/systemd/journald.conf";
const RSYSLOG: &str = "/etc/rsyslog.conf";
const JOURNALD_D: &str = "/etc/systemd/journald.conf.d";
const RSYSLOG_D: &str = "/etc/rsyslog.d";
const MAX_CONF: u64 = 1 << 20;

pub(crate) fn want_logging(tree: &ImageTree, w: &mut Wants) {
    for f in conf_files(tree, JOURNALD, JOURNALD_D)
        .into_iter()
        .chain(conf_files(tree, RSYSLOG, RSYSLOG_D))
    {
        w.whole(f, MAX_CONF);
    }
}

/// A main config file and the `*.conf` drop-ins of its directory, in the order they apply.
fn conf_files(tree: &ImageTree, main: &str, dir: &str) -> Vec<String> {
    let mut v = vec![main.to_string()];
    v.extend(
        files::children(tree, dir)
            .iter()
            .map(|e| e.path.clone())
            .filter(|p| p.ends_with(".conf")),
    );
    v
}

pub(crate) fn logging(tree: &ImageTree, files: &Files) -> Logging {
    let mut l = Logging::default();
    let journald_installed = tree.resolve("/lib/systemd/systemd-journald", true).is_ok()
        || tree
            .resolve("/usr/lib/systemd/systemd-journald", true)
            .is_ok();
    // Later drop-ins override earlier settings, and drop-ins override the main file.
    let journald_files = conf_files(tree, JOURNALD, JOURNALD_D);
    for f in &journald_files {
        let Some(text) = files.text(f) else { continue };
        for line in text.lines().map(str::trim) {
            if let Some(v) = line.strip_prefix("Storage=") {
                l.journald_storage = Some(v.trim().to_string());
            }
            if let Some(v) = line.strip_prefix("ForwardToSyslog=") {
                l.journald_forward_to_syslog = Some(v.trim().to_string());
            }
        }
    }
    if journald_installed && l.journald_storage.is_none() {
        l.journald_storage = Some("auto".into());
    }
    let rsyslog_files = conf_files(tree, RSYSLOG, RSYSLOG_D);
    for f in &rsyslog_files {
        let Some(text) = files.text(f) else { continue };
        l.rsyslog = true;
        for line in text.lines().map(str::trim).filter(|s| !s.starts_with('#')) {
            let action = line.split_whitespace().last().unwrap_or("");
            if line.contains("omfwd") || action.starts_with('@') {
                l.rsyslog_remote = true;
            }
        }
    }
    l.syslog_ng = tree.resolve("/etc/syslog-ng/syslog-ng.conf", true).is_ok();
    l
}
