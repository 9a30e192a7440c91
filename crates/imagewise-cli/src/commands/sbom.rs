//! `imagewise sbom IMAGE --format spdx-json|spdx3-json|cyclonedx-json`

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};

use crate::{Global, InputError, OpenArgs};

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// SPDX 2.3 JSON.
    #[value(name = "spdx-json")]
    Spdx,
    /// SPDX 3.0.1 JSON-LD (states the SBOM type, which SPDX 2.3 cannot).
    #[value(name = "spdx3-json")]
    Spdx3,
    /// CycloneDX 1.5 JSON.
    #[value(name = "cyclonedx-json")]
    Cyclonedx,
}

#[derive(Args)]
pub(crate) struct SbomArgs {
    /// Image reference (dir:, tar:, docker-archive:, oci:, oci-archive:, disk:, or a path).
    image: String,
    /// Document format.
    #[arg(long, value_enum)]
    format: Format,
    /// Write the document here instead of standard output.
    #[arg(long, short)]
    output: Option<std::path::PathBuf>,
    #[command(flatten)]
    open: OpenArgs,
}

/// The creation time: `SOURCE_DATE_EPOCH` when set (reproducible builds), else now.
fn created() -> anyhow::Result<String> {
    let ts = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(s) => {
            let secs: i64 = s.trim().parse().map_err(|_| {
                InputError(format!("SOURCE_DATE_EPOCH={s} is not a number of seconds"))
            })?;
            jiff::Timestamp::from_second(secs)
                .map_err(|e| InputError(format!("SOURCE_DATE_EPOCH={s}: {e}")))?
        }
        Err(_) => jiff::Timestamp::now(),
    };
    Ok(ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
}

pub(crate) fn run(a: &SbomArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let created = created()?;
    let tree = super::open_image(&a.image, &a.open, global, a.output.is_none())?;
    let facts = super::facts_with_licenses(&tree, global)?;
    if !global.quiet {
        for n in &facts.notes {
            eprintln!("imagewise: note: {n}");
        }
    }
    let doc = match a.format {
        Format::Spdx => imagewise_facts::sbom::spdx(&facts, &created),
        Format::Spdx3 => imagewise_facts::sbom::spdx3(&facts, &created),
        Format::Cyclonedx => imagewise_facts::sbom::cyclonedx(&facts, &created),
    };
    let mut bytes = serde_json::to_vec_pretty(&doc)?;
    bytes.push(b'\n');
    match &a.output {
        Some(path) => {
            // Write beside the target and rename, so a failed run leaves no half document.
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            // Created 0666 less the umask, as any new file (a report is meant to be shared);
            // a temporary file's own default is 0600.
            use std::os::unix::fs::PermissionsExt;
            let mut tmp = tempfile::Builder::new()
                .permissions(std::fs::Permissions::from_mode(0o666))
                .tempfile_in(dir)
                .with_context(|| format!("cannot create a file in {}", dir.display()))?;
            tmp.write_all(&bytes)?;
            tmp.persist(path)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        None => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            out.write_all(&bytes)?;
            out.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
