//! `imagewise lifecycle`: the end-of-support table `inspect`, `rank` and `trust` judge releases
//! by, with the user's rows merged in.

use std::fmt::Write as _;
use std::process::ExitCode;

use clap::Args;

use crate::Global;

#[derive(Args)]
pub(crate) struct LifecycleArgs {
    /// Only this distribution (os-release ID: debian, ubuntu, alpine, rhel, …).
    #[arg(long)]
    id: Option<String>,
    /// One JSON document.
    #[arg(long)]
    json: bool,
}

#[derive(serde::Serialize)]
struct Listing {
    table: String,
    today: String,
    releases: Vec<imagewise_facts::lifecycle::LifecycleRow>,
}

pub(crate) fn run(a: &LifecycleArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let table = super::lifecycle_table(global)?;
    let rows: Vec<_> = table
        .rows()
        .into_iter()
        .filter(|r| a.id.as_ref().is_none_or(|id| &r.id == id))
        .collect();
    if let Some(id) = &a.id {
        if rows.is_empty() {
            let mut ids: Vec<String> = table.rows().into_iter().map(|r| r.id).collect();
            ids.dedup();
            return Err(crate::InputError(format!(
                "no distribution {id:?} in the lifecycle table; it has {}",
                ids.join(", ")
            ))
            .into());
        }
    }
    let listing = Listing {
        table: table.origin().to_string(),
        today: imagewise_facts::lifecycle::today().to_string(),
        releases: rows,
    };
    super::print(if a.json {
        super::Output::Json(&listing)
    } else {
        let mut s = String::new();
        let _ = writeln!(s, "lifecycle table: {}", listing.table);
        let mut last = String::new();
        for r in &listing.releases {
            if r.id != last {
                let _ = writeln!(s, "\n{} ({})  source: {}", r.distro, r.id, r.source);
                last = r.id.clone();
            }
            if r.rolling {
                let _ = writeln!(s, "  rolling release: no end of support");
                continue;
            }
            if r.development {
                let _ = writeln!(
                    s,
                    "  {:<8} {:<10} in development",
                    r.release.as_deref().unwrap_or(""),
                    r.codename.as_deref().unwrap_or("")
                );
                continue;
            }
            let _ = writeln!(
                s,
                "  {:<8} {:<10} released {:<10}  end {:<10}{}",
                r.release.as_deref().unwrap_or(""),
                r.codename.as_deref().unwrap_or(""),
                r.released.as_deref().unwrap_or("-"),
                r.end.as_deref().unwrap_or("-"),
                match (&r.extended, &r.extended_end) {
                    (Some(k), Some(e)) => format!("  {k} until {e}"),
                    _ => String::new(),
                }
            );
        }
        super::Output::Text(s)
    })?;
    Ok(ExitCode::SUCCESS)
}
