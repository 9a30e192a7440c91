//! Secrets left in an image: private keys, cloud and registry credentials, `.netrc`, `.env`
//! files, and tokens in the container configuration's environment.
//!
//! Candidates are chosen by name from the metadata (no file is opened to find them), then their
//! first 64 KiB are read in the facts' pass and checked for the key or the credential itself,
//! so an empty template or a public certificate is not reported.

use imagewise_source::{EntryKind, ImageTree};
use imagewise_types::Level;

use super::NO_REFS;
use crate::context::Ctx;
use crate::rule::{Family, Outcome, Refs, Rule, Target};

/// Candidate files read at most; the rest are named in a note.
const MAX_CANDIDATES: usize = 4000;

pub(crate) const RULES: &[Rule] = &[
    Rule {
        id: "private-keys",
        title: "private keys in the image",
        level: Level::High,
        family: Family::Files,
        targets: &[],
        kinds: &[],
        profiles: &["baseline", "cis-host", "cis-container", "vm"],
        why: "A private key in an image is in every copy, every registry and every backup of it; whoever pulls the image holds the key.",
        fix: "Delete the key from the image (in the same layer that made it: a later `rm` leaves it in the earlier layer) and mount it at run time (a secret, a volume, a KMS).",
        refs: Refs {
            dockle: &["CIS-DI-0010"],
            cis: &["Docker 4.10"],
            ..NO_REFS
        },
        check: private_keys,
    },
    Rule {
        id: "credential-files",
        title: "cloud, registry or service credentials in files",
        level: Level::High,
        family: Family::Files,
        targets: &[],
        kinds: &[],
        profiles: &["baseline", "cis-host", "cis-container", "vm"],
        why: "Credentials baked into an image (AWS keys, registry auth, tokens in .env or .npmrc) leak with every copy of it and cannot be rotated per machine.",
        fix: "Remove the file in the layer that added it (or build with a secret mount: `RUN --mount=type=secret`) and give credentials at run time.",
        refs: Refs {
            dockle: &["CIS-DI-0010"],
            cis: &["Docker 4.10"],
            ..NO_REFS
        },
        check: credential_files,
    },
    Rule {
        id: "netrc-files",
        title: ".netrc files",
        level: Level::Medium,
        family: Family::Files,
        targets: &[],
        kinds: &[],
        profiles: &["baseline", "cis-host", "vm"],
        why: ".netrc holds login names and passwords for FTP and HTTP hosts in clear text.",
        fix: "rm the .netrc and use a credential helper or a secret mounted at run time.",
        refs: Refs {
            cis: &["Debian 11 v1.0.0 6.2.14"],
            ssg: &["no_netrc_files"],
            ..NO_REFS
        },
        check: netrc_files,
    },
    Rule {
        id: "secrets-in-env",
        title: "secrets in the container configuration's environment",
        level: Level::High,
        family: Family::Shape,
        targets: &[Target::Container],
        kinds: &[],
        profiles: &["baseline", "cis-container"],
        why: "ENV values are stored in the image configuration: anyone who can pull the image reads them with `docker inspect`.",
        fix: "Drop the ENV line (or its value) from the Dockerfile and pass the secret at run time (`--env-file`, a secret store).",
        refs: Refs {
            dockle: &["CIS-DI-0010"],
            cis: &["Docker 4.10"],
            ..NO_REFS
        },
        check: secrets_in_env,
    },
];

/// Names of private key files by convention.
const KEY_NAMES: &[&str] = &[
    "id_rsa",
    "id_dsa",
    "id_ecdsa",
    "id_ed25519",
    "id_ecdsa_sk",
    "id_ed25519_sk",
];
const KEY_SUFFIXES: &[&str] = &[".pem", ".key", ".p8"];

/// Files named like credentials: (path suffix, what it is).
const CREDENTIAL_FILES: &[(&str, &str)] = &[
    ("/.aws/credentials", "AWS credentials"),
    ("/.docker/config.json", "registry credentials"),
    ("/.git-credentials", "git credentials"),
    ("/.npmrc", "npm registry token"),
    ("/.pypirc", "PyPI credentials"),
    ("/.kube/config", "Kubernetes credentials"),
    (
        "/application_default_credentials.json",
        "Google Cloud credentials",
    ),
    ("/.vault-token", "Vault token"),
    ("/.pgpass", "PostgreSQL passwords"),
    ("/.my.cnf", "MySQL credentials"),
    ("/.netrc", "netrc"),
];

/// Where test suites and documentation keep sample keys, which are not secrets.
fn sample(path: &str) -> bool {
    path.starts_with("/usr/share/doc/")
        || path.starts_with("/usr/share/ca-certificates/")
        || path.starts_with("/etc/ssl/certs/")
        || path
            .split('/')
            .any(|c| c == "test" || c == "tests" || c == "testdata")
}

fn key_named(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or("");
    (KEY_NAMES.contains(&name) || KEY_SUFFIXES.iter().any(|s| name.ends_with(s)))
        && !path.starts_with("/etc/ssh/ssh_host_")
        && !sample(path)
}

fn env_named(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or("");
    (name == ".env" || name.starts_with(".env.") || name.ends_with(".env")) && !sample(path)
}

fn credential_named(path: &str) -> Option<&'static str> {
    CREDENTIAL_FILES
        .iter()
        .find(|(s, _)| path.ends_with(s))
        .map(|(_, w)| *w)
}

/// Files worth reading for secrets, by name alone.
pub(crate) fn candidates(tree: &ImageTree) -> Vec<String> {
    tree.entries()
        .iter()
        .filter(|e| matches!(e.kind, EntryKind::File | EntryKind::Hardlink) && e.size > 0)
        .filter(|e| key_named(&e.path) || env_named(&e.path) || credential_named(&e.path).is_some())
        .take(MAX_CANDIDATES)
        .map(|e| e.path.clone())
        .collect()
}

/// The kind of the first PEM or OpenSSH private key block in `data`.
fn private_key_kind(data: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(data);
    let start = text.find("-----BEGIN ")?;
    let rest = &text[start + 11..];
    let end = rest.find("-----")?;
    let label = &rest[..end];
    label.ends_with("PRIVATE KEY").then(|| label.to_string())
}

fn private_keys(ctx: &Ctx<'_>) -> Outcome {
    let mut bad = Vec::new();
    for e in ctx.tree.entries().iter().filter(|e| key_named(&e.path)) {
        if let Some(kind) = ctx.bytes(&e.path).and_then(private_key_kind) {
            bad.push(format!("{}: {kind}", e.path));
        }
    }
    Outcome::failures(bad)
}

/// Whether a credential file holds a credential, not only its layout.
fn holds_credential(suffix: &str, text: &str) -> bool {
    let lines = || {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
    };
    let has_value = |key: &str| {
        lines().any(|l| {
            l.split_once(['=', ':']).is_some_and(|(k, v)| {
                k.trim().trim_matches('"').eq_ignore_ascii_case(key)
                    && !v.trim().trim_matches(|c| c == '"' || c == ',').is_empty()
            })
        })
    };
    match suffix {
        "/.aws/credentials" => has_value("aws_secret_access_key") || has_value("aws_session_token"),
        "/.docker/config.json" => text.contains("\"auth\"") || text.contains("\"identitytoken\""),
        "/.git-credentials" => lines().any(|l| l.contains("://") && l.contains('@')),
        "/.npmrc" => lines()
            .any(|l| l.contains("_authToken=") || l.contains("_auth=") || l.contains("_password=")),
        "/.pypirc" => has_value("password"),
        "/.kube/config" => {
            has_value("token") || has_value("client-key-data") || has_value("password")
        }
        "/application_default_credentials.json" => {
            text.contains("\"private_key\"") || text.contains("\"refresh_token\"")
        }
        "/.my.cnf" => has_value("password"),
        "/.netrc" => false,
        _ => lines().next().is_some(),
    }
}

/// `.env` lines that set a secret-looking variable to a value.
fn env_secrets(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("export ").unwrap_or(l).split_once('='))
        .filter(|(k, v)| secret_name(k.trim()) && !v.trim().trim_matches(['"', '\'']).is_empty())
        .map(|(k, _)| k.trim().to_string())
        .collect()
}

/// Variable names that hold secrets by convention.
fn secret_name(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    [
        "SECRET",
        "TOKEN",
        "PASSWORD",
        "PASSWD",
        "API_KEY",
        "APIKEY",
        "ACCESS_KEY",
        "PRIVATE_KEY",
        "CREDENTIAL",
    ]
    .iter()
    .any(|w| n.contains(w))
        // Names of files or switches, not secrets.
        && !n.ends_with("_FILE")
        && !n.ends_with("_PATH")
        && !n.ends_with("_DIR")
}

fn credential_files(ctx: &Ctx<'_>) -> Outcome {
    let mut bad = Vec::new();
    for e in ctx.tree.entries() {
        if let Some(what) = credential_named(&e.path) {
            if what == "netrc" {
                continue;
            }
            let suffix = CREDENTIAL_FILES
                .iter()
                .find(|(s, _)| e.path.ends_with(s))
                .map_or("", |(s, _)| *s);
            if let Some(b) = ctx.bytes(&e.path) {
                if holds_credential(suffix, &String::from_utf8_lossy(b)) {
                    bad.push(format!("{}: {what}", e.path));
                }
            }
        } else if env_named(&e.path) {
            if let Some(b) = ctx.bytes(&e.path) {
                let keys = env_secrets(&String::from_utf8_lossy(b));
                if !keys.is_empty() {
                    bad.push(format!("{}: sets {}", e.path, keys.join(", ")));
                }
            }
        }
    }
    Outcome::failures(bad)
}

fn netrc_files(ctx: &Ctx<'_>) -> Outcome {
    let bad: Vec<String> = ctx
        .tree
        .entries()
        .iter()
        .filter(|e| e.kind != EntryKind::Dir && e.path.ends_with("/.netrc"))
        .map(|e| e.path.clone())
        .collect();
    Outcome::failures(bad)
}

fn secrets_in_env(ctx: &Ctx<'_>) -> Outcome {
    let Some(c) = &ctx.facts.config else {
        return Outcome::NotApplicable("the image has no configuration".into());
    };
    let bad: Vec<String> = c
        .env
        .iter()
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, v)| secret_name(k) && !v.is_empty())
        .map(|(k, _)| format!("ENV {k} has a value (not shown)"))
        .collect();
    Outcome::failures(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_not_certificates() {
        assert_eq!(
            private_key_kind(b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn..."),
            Some("OPENSSH PRIVATE KEY".into())
        );
        assert_eq!(
            private_key_kind(b"-----BEGIN RSA PRIVATE KEY-----\n"),
            Some("RSA PRIVATE KEY".into())
        );
        assert_eq!(private_key_kind(b"-----BEGIN CERTIFICATE-----\nMII"), None);
        assert_eq!(private_key_kind(b"\0\x01binary"), None);
    }

    #[test]
    fn credentials_need_a_value() {
        assert!(holds_credential(
            "/.aws/credentials",
            "[default]\naws_access_key_id = AKIA\naws_secret_access_key = abc\n"
        ));
        assert!(!holds_credential(
            "/.aws/credentials",
            "[default]\naws_secret_access_key =\n"
        ));
        assert!(holds_credential(
            "/.docker/config.json",
            r#"{"auths":{"r.io":{"auth":"dXNlcjpwYXNz"}}}"#
        ));
        assert!(!holds_credential(
            "/.docker/config.json",
            r#"{"credsStore":"pass"}"#
        ));
        assert_eq!(
            env_secrets("# c\nDB_PASSWORD=hunter2\nAPI_TOKEN=\nPASSWORD_FILE=/run/s\nexport AWS_SECRET_ACCESS_KEY='x'\n"),
            ["DB_PASSWORD", "AWS_SECRET_ACCESS_KEY"]
        );
    }
}
