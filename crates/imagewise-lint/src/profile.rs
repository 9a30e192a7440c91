//! Profiles: which rules run, at which level, with which thresholds. The built-in ones are named
//! on each rule; user profiles come from a TOML file:
//!
//! ```toml
//! [profiles.web-prod]
//! extends = ["web", "cis-host"]          # built-in or earlier user profiles
//! enable = ["ssh-password-auth"]         # rules added
//! disable = ["no-healthcheck"]           # rules removed
//! levels = { ssh-password-auth = "high" }
//! settings = { somaxconn_min = 8192, setuid_allowed = ["/usr/bin/ping"] }
//! ```

use std::collections::{BTreeMap, BTreeSet};

use imagewise_types::Level;
use serde::Deserialize;

use crate::error::Error;
use crate::rule::Rule;

/// The built-in profiles, each with what it is for.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "baseline",
        "what every server image should get right (the default)",
    ),
    (
        "cis-container",
        "container images, after CIS Docker Benchmark section 4 and dockle",
    ),
    (
        "cis-host",
        "machines, after the CIS Debian benchmark and the SCAP Security Guide",
    ),
    (
        "web",
        "a web or API tier: many short connections, many open files",
    ),
    (
        "db",
        "a database: memory kept resident, predictable I/O, no atime writes",
    ),
    ("cache", "an in-memory cache: no swapping, many connections"),
    (
        "batch",
        "batch and container hosts: cgroup v2 and BPF in the kernel",
    ),
    ("vm", "a VM disk that must boot and be managed in a cloud"),
];

/// Thresholds and lists the rules read. Built-in defaults; a user profile overrides them.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    ints: BTreeMap<String, i64>,
    lists: BTreeMap<String, Vec<String>>,
}

/// The settings every profile starts from: (name, default, what it means).
pub const DEFAULT_INTS: &[(&str, i64, &str)] = &[
    ("somaxconn_min", 4096, "net.core.somaxconn at least"),
    (
        "syn_backlog_min",
        4096,
        "net.ipv4.tcp_max_syn_backlog at least",
    ),
    (
        "nofile_min",
        65536,
        "open files (nofile) soft limit at least",
    ),
    (
        "tw_buckets_min",
        262144,
        "net.ipv4.tcp_max_tw_buckets at least",
    ),
    (
        "file_max_min",
        1048576,
        "fs.file-max at least, where the image sets it",
    ),
    ("swappiness_max", 10, "vm.swappiness at most"),
    (
        "waste_max_mib",
        10,
        "MiB that later layers may delete or replace",
    ),
    (
        "docs_max_mib",
        20,
        "MiB of documentation, man pages and locales in a container",
    ),
    (
        "umask_min",
        0o027,
        "bits the login.defs UMASK must clear at least (octal 027)",
    ),
];

impl Default for Settings {
    fn default() -> Self {
        Settings {
            ints: DEFAULT_INTS
                .iter()
                .map(|(k, v, _)| (k.to_string(), *v))
                .collect(),
            lists: BTreeMap::from([("setuid_allowed".to_string(), Vec::new())]),
        }
    }
}

impl Settings {
    pub fn int(&self, key: &str) -> i64 {
        self.ints.get(key).copied().unwrap_or(0)
    }

    pub fn list(&self, key: &str) -> &[String] {
        self.lists.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    fn set(&mut self, profile: &str, key: &str, v: &toml::Value) -> Result<(), Error> {
        let bad = |why: &str| Error::Profile(format!("profile {profile}: setting {key}: {why}"));
        if self.ints.contains_key(key) {
            let n = v
                .as_integer()
                .ok_or_else(|| bad("must be a whole number"))?;
            self.ints.insert(key.to_string(), n);
        } else if self.lists.contains_key(key) {
            let list = v
                .as_array()
                .and_then(|a| {
                    a.iter()
                        .map(|s| s.as_str().map(str::to_string))
                        .collect::<Option<Vec<_>>>()
                })
                .ok_or_else(|| bad("must be a list of strings"))?;
            self.lists.insert(key.to_string(), list);
        } else {
            let known: Vec<&str> = self
                .ints
                .keys()
                .chain(self.lists.keys())
                .map(String::as_str)
                .collect();
            return Err(bad(&format!(
                "unknown; known settings: {}",
                known.join(", ")
            )));
        }
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserFile {
    #[serde(default)]
    profiles: BTreeMap<String, UserProfile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserProfile {
    #[serde(default)]
    extends: Vec<String>,
    #[serde(default)]
    enable: Vec<String>,
    #[serde(default)]
    disable: Vec<String>,
    #[serde(default)]
    levels: BTreeMap<String, String>,
    #[serde(default)]
    settings: BTreeMap<String, toml::Value>,
}

/// User profiles, as read from a TOML file.
#[derive(Debug, Default)]
pub struct UserProfiles {
    profiles: BTreeMap<String, UserProfile>,
}

impl UserProfiles {
    /// Parse a profile file; every rule id, level and setting is checked against the catalogue.
    pub fn parse(text: &str, catalogue: &[Rule]) -> Result<UserProfiles, Error> {
        let file: UserFile = toml::from_str(text).map_err(|e| Error::Profile(e.to_string()))?;
        let known = |id: &str| catalogue.iter().any(|r| r.id == id);
        for (name, p) in &file.profiles {
            if BUILTIN.iter().any(|(b, _)| b == name) {
                return Err(Error::Profile(format!(
                    "profile {name}: that name is a built-in profile; give yours another name and `extends = [\"{name}\"]`"
                )));
            }
            for id in p.enable.iter().chain(&p.disable).chain(p.levels.keys()) {
                if !known(id) {
                    return Err(Error::Profile(format!(
                        "profile {name}: no rule {id:?} (imagewise lint --list-rules shows them)"
                    )));
                }
            }
            for (id, l) in &p.levels {
                l.parse::<Level>().map_err(|_| {
                    Error::Profile(format!(
                        "profile {name}: level {l:?} of {id} is not one of low, medium, high, critical"
                    ))
                })?;
            }
        }
        Ok(UserProfiles {
            profiles: file.profiles,
        })
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.profiles.keys().map(String::as_str)
    }
}

/// The rules to run, their levels, and the settings: what the asked profiles add up to.
#[derive(Debug, Clone)]
pub struct Selection {
    pub profiles: Vec<String>,
    pub rules: BTreeSet<&'static str>,
    pub levels: BTreeMap<&'static str, Level>,
    pub settings: Settings,
}

/// Resolve profile names (built-in or user) into a selection; none means `baseline`.
pub fn select(
    names: &[String],
    user: &UserProfiles,
    catalogue: &[Rule],
) -> Result<Selection, Error> {
    let names: Vec<String> = if names.is_empty() {
        vec!["baseline".into()]
    } else {
        names.to_vec()
    };
    let mut sel = Selection {
        profiles: names.clone(),
        rules: BTreeSet::new(),
        levels: BTreeMap::new(),
        settings: Settings::default(),
    };
    for n in &names {
        add(n, user, catalogue, &mut sel, 0)?;
    }
    Ok(sel)
}

fn add(
    name: &str,
    user: &UserProfiles,
    catalogue: &[Rule],
    sel: &mut Selection,
    depth: usize,
) -> Result<(), Error> {
    if depth > 16 {
        return Err(Error::Profile(format!(
            "profile {name}: `extends` goes more than 16 deep (a loop?)"
        )));
    }
    if BUILTIN.iter().any(|(b, _)| *b == name) {
        for r in catalogue.iter().filter(|r| r.profiles.contains(&name)) {
            sel.rules.insert(r.id);
        }
        return Ok(());
    }
    let Some(p) = user.profiles.get(name) else {
        let mut known: Vec<&str> = BUILTIN.iter().map(|(b, _)| *b).collect();
        known.extend(user.names());
        return Err(Error::Profile(format!(
            "no profile {name:?}; known: {} (user profiles come from --profile-file)",
            known.join(", ")
        )));
    };
    for parent in &p.extends {
        add(parent, user, catalogue, sel, depth + 1)?;
    }
    let id_of = |id: &str| catalogue.iter().find(|r| r.id == id).map(|r| r.id);
    for id in &p.enable {
        if let Some(id) = id_of(id) {
            sel.rules.insert(id);
        }
    }
    for id in &p.disable {
        if let Some(id) = id_of(id) {
            sel.rules.remove(id);
        }
    }
    for (id, l) in &p.levels {
        if let (Some(id), Ok(l)) = (id_of(id), l.parse::<Level>()) {
            sel.levels.insert(id, l);
        }
    }
    for (k, v) in &p.settings {
        sel.settings.set(name, k, v)?;
    }
    Ok(())
}
