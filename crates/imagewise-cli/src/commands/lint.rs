//! `imagewise lint IMAGE [--profile P]… [--profile-file F] [--fail-on LEVEL] [--ignore FILE]
//! [--json|--sarif] [--list-rules]`

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use imagewise_lint::{IgnoreRules, LintOptions, UserProfiles};
use imagewise_types::Level;

use crate::{Global, InputError, OpenArgs};

#[derive(Args)]
pub(crate) struct LintArgs {
    /// Image reference (dir:, tar:, docker-archive:, oci:, oci-archive:, disk:, snapshot:, or
    /// a path). Not needed with --list-rules.
    #[arg(required_unless_present = "list_rules")]
    image: Option<String>,
    /// Profile to apply (repeatable): baseline (default), cis-container, cis-host, web, db,
    /// cache, batch, vm, or one from --profile-file.
    #[arg(long = "profile", value_name = "P")]
    profiles: Vec<String>,
    /// TOML file of user profiles (`[profiles.NAME]` with extends, enable, disable, levels,
    /// settings); see docs/lint.md.
    #[arg(long, env = "IMAGEWISE_LINT_PROFILES")]
    profile_file: Option<PathBuf>,
    /// Exit 1 when a failure (not ignored) is at or above this level (low, medium, high,
    /// critical).
    #[arg(long)]
    fail_on: Option<Level>,
    /// Accepted failures: one `RULE-ID [until=YYYY-MM-DD]` per line, `#` comments.
    #[arg(long)]
    ignore: Option<PathBuf>,
    /// Print one JSON document (every selected rule's result).
    #[arg(long, conflicts_with = "sarif")]
    json: bool,
    /// Print SARIF 2.1.0 (for code-scanning dashboards).
    #[arg(long)]
    sarif: bool,
    /// Print the catalogue of rules (with --json: as JSON) and exit.
    #[arg(long)]
    list_rules: bool,
    #[command(flatten)]
    open: OpenArgs,
}

fn read(path: &PathBuf, what: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| InputError(format!("cannot read {what} {}: {e}", path.display())).into())
}

pub(crate) fn run(a: &LintArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let catalogue = imagewise_lint::catalogue();
    if a.list_rules {
        super::print(if a.json {
            super::Output::Json(&catalogue)
        } else {
            super::Output::Text(list_text(&catalogue))
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    let image = a.image.as_deref().unwrap_or_default();
    let user = match &a.profile_file {
        Some(p) => UserProfiles::parse(&read(p, "profile file")?, &catalogue)
            .with_context(|| format!("profile file {}", p.display()))?,
        None => UserProfiles::default(),
    };
    let ignore = match &a.ignore {
        Some(p) => IgnoreRules::parse(&read(p, "ignore file")?, &catalogue)
            .with_context(|| format!("ignore file {}", p.display()))?,
        None => IgnoreRules::default(),
    };
    let opts = LintOptions {
        profiles: a.profiles.clone(),
        user: Arc::new(user),
        ignore,
        today: None,
    };
    // Profiles are checked before the image is opened: a typo fails fast.
    imagewise_lint::select(&opts.profiles, &opts.user, &catalogue)?;
    let tree = super::open_image(image, &a.open, global, a.json || a.sarif)?;
    // The facts with the user's lifecycle rows, for the end-of-support rule.
    let table = super::lifecycle_table(global)?;
    let (mut facts, files) = imagewise_facts::inspect_with(&tree, imagewise_lint::wants(&tree));
    facts.os.support = table.support(&facts.os, imagewise_facts::lifecycle::today());
    let report = imagewise_lint::lint_facts(&tree, &facts, &files, &opts)?;
    if !global.quiet {
        for e in &report.expired_ignores {
            eprintln!("imagewise: warning: ignore rule {e}; it no longer applies");
        }
    }
    super::print(if a.sarif {
        super::Output::Sarif(report.sarif())
    } else if a.json {
        super::Output::Json(&report)
    } else {
        super::Output::Text(report.render_text())
    })?;
    Ok(if report.fails(a.fail_on) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn list_text(catalogue: &[imagewise_lint::Rule]) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let mut rules: Vec<&imagewise_lint::Rule> = catalogue.iter().collect();
    rules.sort_by_key(|r| (r.family, r.id));
    let mut family = None;
    for r in rules {
        if family != Some(r.family) {
            let _ = writeln!(s, "\n# {}", r.family.as_str());
            family = Some(r.family);
        }
        let mut refs: Vec<String> = Vec::new();
        for (name, ids) in [
            ("CIS", r.refs.cis),
            ("dockle", r.refs.dockle),
            ("SSG", r.refs.ssg),
            ("lynis", r.refs.lynis),
        ] {
            if !ids.is_empty() {
                refs.push(format!("{name} {}", ids.join(", ")));
            }
        }
        let _ = writeln!(
            s,
            "{:<28} {:<10} {}\n{:<39}profiles: {}{}",
            r.id,
            r.level.as_str(),
            r.title,
            "",
            if r.profiles.is_empty() {
                "none (enable it in a user profile)".to_string()
            } else {
                r.profiles.join(", ")
            },
            if refs.is_empty() {
                String::new()
            } else {
                format!("; {}", refs.join("; "))
            }
        );
    }
    let _ = writeln!(s, "\nprofiles:");
    for (p, what) in imagewise_lint::BUILTIN_PROFILES {
        let _ = writeln!(s, "  {p:<14} {what}");
    }
    s
}
