//! Image shape (container images): the user it runs as, HEALTHCHECK, tags, package-manager
//! caches and build tools left in, bytes that later layers delete, documentation a slim base
//! would not carry, and what the build history shows.

use imagewise_facts::ImageKind;
use imagewise_source::EntryKind;
use imagewise_types::Level;

use super::NO_REFS;
use crate::context::Ctx;
use crate::rule::{Family, Outcome, Refs, Rule, Target};

const CONTAINER: &[Target] = &[Target::Container];
const APP: &[ImageKind] = &[
    ImageKind::Application,
    ImageKind::Distroless,
    ImageKind::Scratch,
];

pub(crate) const RULES: &[Rule] = &[
    Rule {
        id: "runs-as-root",
        title: "the container runs as root",
        level: Level::Medium,
        family: Family::Shape,
        targets: CONTAINER,
        kinds: &[],
        profiles: &["baseline", "cis-container"],
        why: "A process that is root in the container is root on the host's kernel interface; one escape bug or one writable host mount away from the host.",
        fix: "Add a user and `USER 10001` (a numeric UID, so Kubernetes' runAsNonRoot can check it) to the Dockerfile.",
        refs: Refs {
            dockle: &["CIS-DI-0001"],
            cis: &["Docker 4.1"],
            ..NO_REFS
        },
        check: runs_as_root,
    },
    Rule {
        id: "no-healthcheck",
        title: "no HEALTHCHECK",
        level: Level::Low,
        family: Family::Shape,
        targets: CONTAINER,
        kinds: APP,
        profiles: &["cis-container"],
        why: "Without a health check the runtime only knows the process exists, not that it serves; a hung server is never restarted.",
        fix: "Add `HEALTHCHECK CMD curl -fsS http://localhost:PORT/health || exit 1` (or the orchestrator's probes).",
        refs: Refs {
            dockle: &["CIS-DI-0006"],
            cis: &["Docker 4.6"],
            ..NO_REFS
        },
        check: no_healthcheck,
    },
    Rule {
        id: "latest-tag",
        title: "tagged `latest`",
        level: Level::Low,
        family: Family::Shape,
        targets: CONTAINER,
        kinds: &[],
        profiles: &["baseline", "cis-container"],
        why: "`latest` names a different image after every push, so what runs and what was tested drift apart and rollbacks have nothing to roll back to.",
        fix: "Tag with a version or the commit (`app:1.4.2`, `app:git-3f9c2e1`) and deploy by digest.",
        refs: Refs {
            dockle: &["DKL-DI-0006"],
            ..NO_REFS
        },
        check: latest_tag,
    },
    Rule {
        id: "package-caches",
        title: "package manager caches and lists left in the image",
        level: Level::Low,
        family: Family::Shape,
        targets: CONTAINER,
        kinds: &[],
        profiles: &["baseline", "cis-container"],
        why: "apt lists, downloaded .debs, apk, pip and npm caches are dead weight in every pull and every node's disk, and they go stale.",
        fix: "In the same RUN: `apt-get install … && rm -rf /var/lib/apt/lists/*`, `apk add --no-cache`, `pip install --no-cache-dir`, `npm ci && npm cache clean --force`.",
        refs: Refs {
            dockle: &["DKL-DI-0005", "DKL-DI-0004"],
            ..NO_REFS
        },
        check: package_caches,
    },
    Rule {
        id: "build-tools",
        title: "compilers or debuggers in an application image",
        level: Level::Low,
        family: Family::Shape,
        targets: CONTAINER,
        kinds: APP,
        profiles: &["baseline", "cis-container"],
        why: "A compiler or debugger in a running image helps an intruder build and attach tools, and adds size and CVEs the application never uses.",
        fix: "Build in one stage and copy only the result into a runtime stage (multi-stage build).",
        refs: Refs {
            lynis: &["HRDN-7222"],
            ..NO_REFS
        },
        check: build_tools,
    },
    Rule {
        id: "package-manager-in-container",
        title: "a package manager in a container image",
        level: Level::Negligible,
        family: Family::Shape,
        targets: CONTAINER,
        kinds: &[],
        profiles: &["cis-container"],
        why: "A package manager lets whoever gets in install anything; an image that only runs one program can be distroless.",
        fix: "Use a distroless or scratch runtime stage (gcr.io/distroless, chainguard, `FROM scratch` for static binaries).",
        refs: NO_REFS,
        check: package_manager_in_app,
    },
    Rule {
        id: "layer-waste",
        title: "files added, then deleted or replaced in a later layer",
        level: Level::Low,
        family: Family::Shape,
        targets: CONTAINER,
        kinds: &[],
        profiles: &["baseline", "cis-container"],
        why: "A file deleted in a later layer still ships in the earlier one: every pull downloads it, and a secret removed that way is still there.",
        fix: "Create and remove temporary files in the same RUN, or use a multi-stage build; `docker history` shows the layer.",
        refs: NO_REFS,
        check: layer_waste,
    },
    Rule {
        id: "slim-base",
        title: "documentation, man pages and locales a slim base would not carry",
        level: Level::Low,
        family: Family::Shape,
        targets: CONTAINER,
        kinds: &[],
        profiles: &["baseline", "cis-container"],
        why: "A full system base ships manuals and translations nobody reads in a container; a slim or distroless base pulls and starts faster and carries fewer packages to patch.",
        fix: "FROM debian:bookworm-slim (or a distroless base), or delete /usr/share/doc, man and locale in the build stage.",
        refs: NO_REFS,
        check: slim_base,
    },
    Rule {
        id: "sudo-in-build",
        title: "sudo used in the build",
        level: Level::Low,
        family: Family::Shape,
        targets: CONTAINER,
        kinds: &[],
        profiles: &["cis-container"],
        why: "Build steps already run as root; sudo in a Dockerfile means sudo is installed and configured in the image, where it only helps an intruder.",
        fix: "Drop sudo from the RUN lines and switch users with USER.",
        refs: Refs {
            dockle: &["DKL-DI-0001"],
            ..NO_REFS
        },
        check: sudo_in_build,
    },
    Rule {
        id: "add-instead-of-copy",
        title: "ADD used where COPY would do",
        level: Level::Low,
        family: Family::Shape,
        targets: CONTAINER,
        kinds: &[],
        profiles: &["cis-container"],
        why: "ADD also fetches URLs and unpacks archives, so a changed remote file or a crafted tarball changes the image silently.",
        fix: "Use COPY for local files; fetch with curl and a checksum check in RUN.",
        refs: Refs {
            dockle: &["CIS-DI-0009"],
            cis: &["Docker 4.9"],
            ..NO_REFS
        },
        check: add_instead_of_copy,
    },
];

fn config<'a>(ctx: &Ctx<'a>) -> Result<&'a imagewise_facts::ConfigFacts, Outcome> {
    ctx.facts
        .config
        .as_ref()
        .ok_or_else(|| Outcome::NotApplicable("the image has no configuration".into()))
}

fn runs_as_root(ctx: &Ctx<'_>) -> Outcome {
    let c = match config(ctx) {
        Ok(c) => c,
        Err(o) => return o,
    };
    let user = c.user.as_deref().unwrap_or("");
    let name = user.split(':').next().unwrap_or("");
    if name.is_empty() || name == "root" || name == "0" {
        Outcome::Fail(vec![if user.is_empty() {
            "no User in the configuration: the default is root".into()
        } else {
            format!("User {user}")
        }])
    } else {
        Outcome::Pass
    }
}

fn no_healthcheck(ctx: &Ctx<'_>) -> Outcome {
    let c = match config(ctx) {
        Ok(c) => c,
        Err(o) => return o,
    };
    match c.healthcheck.as_deref() {
        Some([first, ..]) if first != "NONE" => Outcome::Pass,
        Some(_) => Outcome::Fail(vec!["HEALTHCHECK NONE".into()]),
        None => Outcome::Fail(vec!["no Healthcheck in the configuration".into()]),
    }
}

fn latest_tag(ctx: &Ctx<'_>) -> Outcome {
    let tags = &ctx.facts.image.tags;
    if tags.is_empty() {
        return Outcome::NotApplicable("the image has no tag".into());
    }
    let bad: Vec<String> = tags
        .iter()
        .filter(|t| *t == "latest" || t.ends_with(":latest"))
        .cloned()
        .collect();
    Outcome::failures(bad)
}

/// Bytes of regular files under `dir` (not the directory's own placeholder files).
fn bytes_under(ctx: &Ctx<'_>, dir: &str, keep: impl Fn(&str) -> bool) -> (u64, u64) {
    let Some(d) = ctx.lentry(dir) else {
        return (0, 0);
    };
    if d.kind != EntryKind::Dir {
        return (0, 0);
    }
    ctx.tree
        .subtree(d)
        .filter(|e| e.kind == EntryKind::File && keep(&e.path))
        .fold((0, 0), |(n, b), e| (n + 1, b + e.size))
}

fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0))
}

fn package_caches(ctx: &Ctx<'_>) -> Outcome {
    let base = |p: &str| p.rsplit('/').next().unwrap_or("").to_string();
    let places: &[(&str, &str)] = &[
        ("/var/lib/apt/lists", "apt lists"),
        ("/var/cache/apt", "apt cache"),
        ("/var/cache/apk", "apk cache"),
        ("/var/cache/dnf", "dnf cache"),
        ("/var/cache/yum", "yum cache"),
        ("/var/cache/zypp", "zypper cache"),
        ("/root/.cache/pip", "pip cache"),
        ("/root/.npm/_cacache", "npm cache"),
        ("/usr/local/share/.cache/yarn", "yarn cache"),
    ];
    let mut bad = Vec::new();
    for (dir, what) in places {
        // `lock` files and `partial/` are what apt itself keeps in an empty state.
        let (n, b) = bytes_under(ctx, dir, |p| base(p) != "lock" && !p.contains("/partial/"));
        if n > 0 {
            bad.push(format!("{dir}: {what}, {n} files, {}", mib(b)));
        }
    }
    Outcome::failures(bad)
}

fn build_tools(ctx: &Ctx<'_>) -> Outcome {
    const TOOLS: &[&str] = &[
        "gcc", "g++", "cc", "c++", "clang", "rustc", "cargo", "go", "make", "gdb", "strace",
        "ltrace", "tcpdump", "perf", "valgrind",
    ];
    let mut bad = Vec::new();
    for t in TOOLS {
        for dir in ["/usr/bin", "/usr/local/bin", "/bin", "/usr/local/go/bin"] {
            let p = format!("{dir}/{t}");
            if ctx.lentry(&p).is_some() {
                bad.push(p);
                break;
            }
        }
    }
    bad.dedup();
    Outcome::failures(bad)
}

fn package_manager_in_app(ctx: &Ctx<'_>) -> Outcome {
    let managers = [
        "/usr/bin/apt-get",
        "/usr/bin/dpkg",
        "/sbin/apk",
        "/usr/bin/dnf",
        "/usr/bin/yum",
        "/usr/bin/microdnf",
        "/usr/bin/zypper",
        "/usr/bin/rpm",
    ];
    let found: Vec<String> = managers
        .iter()
        .filter(|p| ctx.exists(p))
        .map(|p| p.to_string())
        .collect();
    if found.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Fail(found)
    }
}

fn layer_waste(ctx: &Ctx<'_>) -> Outcome {
    let size = &ctx.facts.size;
    if size.layers.len() < 2 {
        return Outcome::NotApplicable("a single layer hides nothing".into());
    }
    let max = ctx.setting_int("waste_max_mib").max(0) as u64 * 1024 * 1024;
    if size.waste_bytes <= max {
        return Outcome::Pass;
    }
    let mut bad: Vec<String> = vec![format!(
        "{} in earlier layers is deleted or replaced later (limit {})",
        mib(size.waste_bytes),
        mib(max)
    )];
    for l in size.layers.iter().filter(|l| l.hidden_bytes > 0) {
        bad.push(format!(
            "layer {}{}: {} entries, {} hidden{}",
            l.index,
            l.digest
                .as_deref()
                .map(|d| format!(" ({})", &d[..d.len().min(19)]))
                .unwrap_or_default(),
            l.hidden_entries,
            mib(l.hidden_bytes),
            l.created_by
                .as_deref()
                .map(|c| format!(", made by {c:.60}"))
                .unwrap_or_default()
        ));
    }
    Outcome::Fail(bad)
}

fn slim_base(ctx: &Ctx<'_>) -> Outcome {
    let mut total = 0u64;
    let mut parts = Vec::new();
    for dir in [
        "/usr/share/doc",
        "/usr/share/man",
        "/usr/share/info",
        "/usr/share/locale",
    ] {
        let (_, b) = bytes_under(ctx, dir, |p| !p.ends_with("/locale.alias"));
        if b > 0 {
            total += b;
            parts.push(format!("{dir} {}", mib(b)));
        }
    }
    let max = ctx.setting_int("docs_max_mib").max(0) as u64 * 1024 * 1024;
    let system = ctx.kind() == ImageKind::System;
    if total <= max && !system {
        return Outcome::Pass;
    }
    let mut bad = Vec::new();
    if system {
        bad.push(format!(
            "the image has an init system ({}): a full system base",
            ctx.facts.init.system
        ));
    }
    if total > max {
        bad.push(format!(
            "a slim base would save about {} ({})",
            mib(total),
            parts.join(", ")
        ));
    }
    Outcome::Fail(bad)
}

fn history_lines<'a>(ctx: &Ctx<'a>) -> Result<Vec<&'a str>, Outcome> {
    let c = config(ctx)?;
    if c.history.is_empty() {
        return Err(Outcome::NotApplicable(
            "the configuration has no build history".into(),
        ));
    }
    Ok(c.history
        .iter()
        .filter_map(|h| h.created_by.as_deref())
        .collect())
}

fn sudo_in_build(ctx: &Ctx<'_>) -> Outcome {
    let lines = match history_lines(ctx) {
        Ok(l) => l,
        Err(o) => return o,
    };
    let bad: Vec<String> = lines
        .iter()
        .filter(|l| {
            l.split(|c: char| c.is_whitespace() || c == ';' || c == '&')
                .any(|w| w == "sudo")
        })
        .map(|l| format!("{l:.120}"))
        .collect();
    Outcome::failures(bad)
}

fn add_instead_of_copy(ctx: &Ctx<'_>) -> Outcome {
    let lines = match history_lines(ctx) {
        Ok(l) => l,
        Err(o) => return o,
    };
    let bad: Vec<String> = lines
        .iter()
        .filter(|l| {
            let l = l.trim_start_matches("/bin/sh -c #(nop) ").trim_start();
            l.starts_with("ADD ")
                // A base layer (`ADD file:<digest> in /`, `ADD rootfs.tar.xz /`) is what ADD
                // is for.
                && !l.starts_with("ADD file:")
                && !l.contains(".tar")
        })
        .map(|l| format!("{l:.120}"))
        .collect();
    Outcome::failures(bad)
}
