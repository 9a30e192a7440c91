//! `imagewise trust IMAGE [--json] [--key PEM]… [--full-verify] [--db DIR]`

use std::process::ExitCode;

use clap::Args;

use super::catalog::{database, evaluate, JudgeArgs};
use super::db::DbLocation;
use crate::{Global, OpenArgs};

#[derive(Args)]
pub(crate) struct TrustArgs {
    /// The image (any reference `inspect` takes).
    image: String,
    #[command(flatten)]
    judge: JudgeArgs,
    #[command(flatten)]
    db: DbLocation,
    /// One JSON document.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    open: OpenArgs,
}

pub(crate) fn run(a: &TrustArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let trust = a.judge.options()?;
    let db = database(&a.db)?;
    let mut open = a.open.options(global, a.json)?;
    // A snapshot's signature is judged here, not required to open it.
    open.snapshots = Some(std::sync::Arc::new(imagewise_store::SnapshotSource {
        allow_unsigned: true,
        trust_key: a
            .open
            .trust_key
            .as_deref()
            .map(imagewise_store::PublicKey::load)
            .transpose()?,
    }));
    let tree = super::open_image_with(&a.image, &open, global)?;
    let table = super::lifecycle_table(global)?;
    let e = evaluate(&tree, &a.image, &table, db.as_ref(), &trust, false)?;
    super::print(if a.json {
        super::Output::Json(&e.trust)
    } else {
        super::Output::Text(e.trust.render_text())
    })?;
    Ok(ExitCode::SUCCESS)
}
