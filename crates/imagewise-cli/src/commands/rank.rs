//! `imagewise rank --require SPEC IMAGE… [--json] [--pick]`

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use imagewise_select::{App, Candidate, Requirements};

use super::check::{load_app, AppArgs};
use super::open_image_with;
use crate::{Global, InputError, OpenArgs};

#[derive(Args)]
pub(crate) struct RankArgs {
    /// Requirements: a TOML file (docs/select.md), or the one-line form
    /// ('arch=arm64 libc=glibc>=2.35 pkg:openssl>=3 no-critical').
    #[arg(long)]
    require: String,
    /// Candidate images (any reference `inspect` takes).
    #[arg(value_name = "IMAGE", required_unless_present = "catalog")]
    images: Vec<String>,
    /// Rank the images recorded in the catalog (this file, or the default catalog), as
    /// recorded: their scan and trust are as of the last `catalog add` or `refresh`.
    #[arg(long, value_name = "PATH", num_args = 0..=1, default_missing_value = "", conflicts_with = "images")]
    catalog: Option<std::path::PathBuf>,
    #[command(flatten)]
    db: super::db::DbLocation,
    #[command(flatten)]
    judge: super::catalog::JudgeArgs,
    /// Print one JSON document.
    #[arg(long, conflicts_with = "pick")]
    json: bool,
    /// Print only the winner's reference (nothing, and exit 1, when none passes).
    #[arg(long)]
    pick: bool,
    #[command(flatten)]
    open: OpenArgs,
}

fn requirements(spec: &str) -> anyhow::Result<Requirements> {
    let path = std::path::Path::new(spec);
    if path.is_file() {
        let text = std::fs::read_to_string(path)
            .map_err(|e| InputError(format!("cannot read {spec}: {e}")))?;
        Ok(Requirements::from_toml(&text).with_context(|| spec.to_string())?)
    } else if spec.ends_with(".toml") {
        Err(InputError(format!("{spec}: no such requirements file")).into())
    } else {
        Ok(Requirements::from_line(spec)?)
    }
}

pub(crate) fn run(a: &RankArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let req = requirements(&a.require)?;
    let quiet = a.json || a.pick;
    let opts = a.open.options(global, quiet)?;
    let apps = req
        .app
        .iter()
        .map(|r| {
            let x = AppArgs {
                app: &r.path,
                at: r.at.as_deref().unwrap_or("/opt/app"),
                paths: &[],
            };
            let mut o = opts.clone();
            o.xattrs = false;
            Ok(App {
                name: r.path.clone(),
                set: load_app(&x, &o, global, false).with_context(|| format!("app {}", r.path))?,
            })
        })
        .collect::<anyhow::Result<Vec<App>>>()?;
    let mut candidates = Vec::new();
    let mut unopenable = Vec::new();
    let table = super::lifecycle_table(global)?;
    if let Some(path) = &a.catalog {
        let location = super::catalog::CatalogLocation {
            file: (!path.as_os_str().is_empty()).then(|| path.clone()),
        };
        let cat = location.open()?;
        let today = imagewise_facts::lifecycle::today();
        let packages = !req.package.is_empty() || !req.forbid.is_empty();
        let records = cat.list(packages)?;
        if records.is_empty() {
            return Err(InputError(format!(
                "the catalog {} is empty: `imagewise catalog add IMAGE…` first",
                cat.path().display()
            ))
            .into());
        }
        for r in records {
            let mut facts = r.facts;
            facts.os.support = table.support(&facts.os, today);
            let target = if apps.is_empty() {
                None
            } else {
                match open_image_with(&r.reference, &opts, global) {
                    Ok(tree) => Some(imagewise_compat::Target::new(
                        &r.reference,
                        Arc::new(tree),
                        Default::default(),
                    )),
                    Err(e) => {
                        unopenable.push(imagewise_select::Rejected::unopenable(
                            &r.reference,
                            &format!("{e:#} (needed to check the app)"),
                        ));
                        continue;
                    }
                }
            };
            candidates.push(Candidate {
                reference: r.reference,
                facts,
                target,
                vulns: r.scan.map(|s| s.counts),
                trust: r.trust,
                package_count: (!packages).then_some(r.package_count),
            });
        }
    }
    let db = super::catalog::database(&a.db)?;
    let trust_opts = a.judge.options()?;
    for reference in &a.images {
        // One candidate that cannot be opened is rejected with the reason; the rest are ranked.
        let tree = match open_image_with(reference, &opts, global) {
            Ok(t) => t,
            Err(e) => {
                unopenable.push(imagewise_select::Rejected::unopenable(
                    reference,
                    &format!("{e:#}"),
                ));
                continue;
            }
        };
        let e =
            super::catalog::evaluate(&tree, reference, &table, db.as_ref(), &trust_opts, false)?;
        let target = (!apps.is_empty())
            .then(|| imagewise_compat::Target::new(reference, Arc::new(tree), Default::default()));
        candidates.push(Candidate {
            reference: reference.clone(),
            facts: e.facts,
            target,
            vulns: e.scan.map(|s| s.counts),
            trust: Some(e.trust),
            package_count: None,
        });
    }
    let today = jiff::tz::Offset::UTC
        .to_datetime(jiff::Timestamp::now())
        .date();
    let mut report = imagewise_select::rank(&req, &candidates, &apps, today);
    report.rejected.extend(unopenable);
    report
        .rejected
        .sort_by(|x, y| x.reference.cmp(&y.reference));
    super::print(if a.pick {
        super::Output::Text(
            report
                .winner
                .as_ref()
                .map(|w| format!("{w}\n"))
                .unwrap_or_default(),
        )
    } else if a.json {
        super::Output::Json(&report)
    } else {
        super::Output::Text(report.render_text())
    })?;
    Ok(if report.winner.is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
