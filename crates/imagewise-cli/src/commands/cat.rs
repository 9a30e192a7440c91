//! `imagewise cat IMAGE PATH`

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use crate::{Global, OpenArgs};

#[derive(Args)]
pub(crate) struct CatArgs {
    /// Image reference (dir:, tar:, docker-archive:, oci:, oci-archive:, disk:, or a path).
    image: String,
    /// Path inside the image; symlinks are followed inside the image.
    path: String,
    #[command(flatten)]
    open: OpenArgs,
}

pub(crate) fn run(a: &CatArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let tree = super::open_image(&a.image, &a.open, global, true)?;
    let mut reader = tree
        .open(&a.path)
        .with_context(|| format!("cannot read {} from {}", a.path, a.image))?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    std::io::copy(&mut reader, &mut out)
        .with_context(|| format!("reading {} from {}", a.path, a.image))?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
