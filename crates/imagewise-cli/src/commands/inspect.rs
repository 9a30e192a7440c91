//! `imagewise inspect IMAGE [--json] [--packages]`

use std::io::Write;
use std::process::ExitCode;

use clap::Args;

use crate::{Global, OpenArgs};

#[derive(Args)]
pub(crate) struct InspectArgs {
    /// Image reference (dir:, tar:, docker-archive:, oci:, oci-archive:, disk:, or a path).
    image: String,
    /// Print the facts as one JSON document (schema: docs/inspect-json.md).
    #[arg(long)]
    json: bool,
    /// Also list every installed package (human output).
    #[arg(long)]
    packages: bool,
    /// Also list every kernel config flag (human output).
    #[arg(long)]
    kernel_config: bool,
    #[command(flatten)]
    open: OpenArgs,
}

pub(crate) fn run(a: &InspectArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let tree = super::open_image(&a.image, &a.open, global, a.json)?;
    let facts = super::facts_of(&tree, global)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if a.json {
        serde_json::to_writer_pretty(&mut out, &facts)?;
        writeln!(out)?;
    } else {
        out.write_all(
            imagewise_facts::render_text(&facts, a.packages, a.kernel_config).as_bytes(),
        )?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
