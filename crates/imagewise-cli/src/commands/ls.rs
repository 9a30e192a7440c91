//! `imagewise ls IMAGE [PATH]` — text like `ls -l`, or `--json`: one object per line.

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use imagewise_source::{ls_line, Entry, EntryKind, LsRecord};

use crate::{Global, OpenArgs};

#[derive(Args)]
pub(crate) struct LsArgs {
    /// Image reference (dir:, tar:, docker-archive:, oci:, oci-archive:, disk:, or a path).
    image: String,
    /// List only this path and what is under it (symlinks are followed inside the image).
    path: Option<String>,
    /// JSON lines: one object per entry (see docs/ls-json.md).
    #[arg(long)]
    json: bool,
    /// Add the SHA-256 of every regular file's content (reads every file once).
    #[arg(long)]
    digest: bool,
    #[command(flatten)]
    open: OpenArgs,
}

pub(crate) fn run(a: &LsArgs, global: &Global) -> anyhow::Result<ExitCode> {
    list(
        &a.image,
        a.path.as_deref(),
        a.json,
        a.digest,
        &a.open,
        global,
    )
}

/// List `image` (under `path`), as text or JSON lines, with digests if asked.
pub(crate) fn list(
    image: &str,
    path: Option<&str>,
    json: bool,
    digest: bool,
    open: &OpenArgs,
    global: &Global,
) -> anyhow::Result<ExitCode> {
    let tree = super::open_image(image, open, global, json)?;
    let root = match path {
        Some(p) => tree
            .resolve(p, true)
            .with_context(|| format!("cannot list {p} in {image}"))?,
        None => &tree.entries()[0],
    };
    let entries: Vec<&Entry> = tree.subtree(root).collect();
    let digests = if digest {
        tree.sha256_of(&entries)
            .with_context(|| format!("reading files of {image}"))?
    } else {
        HashMap::new()
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for e in entries {
        // A hardlink shares its primary name's content.
        let digest = match (e.kind, &e.link) {
            (EntryKind::Hardlink, Some(l)) => digests.get(l),
            _ => digests.get(&e.path),
        };
        let digest = digest.map(String::as_str);
        if json {
            serde_json::to_writer(&mut out, &LsRecord::new(e, digest))?;
            out.write_all(b"\n")?;
        } else {
            writeln!(out, "{}", ls_line(e, digest))?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
