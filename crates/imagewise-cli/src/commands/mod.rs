//! One module per subcommand; each builds options, calls the library, renders the result.

pub(crate) mod cat;
pub(crate) mod catalog;
pub(crate) mod check;
pub(crate) mod db;
pub(crate) mod inspect;
pub(crate) mod lifecycle;
pub(crate) mod lint;
pub(crate) mod ls;
pub(crate) mod rank;
pub(crate) mod sbom;
pub(crate) mod scan;
pub(crate) mod store;
pub(crate) mod trust;
pub(crate) mod vercmp;

use anyhow::Context;
use imagewise_source::ImageTree;

use crate::{Global, OpenArgs};

/// How a report is printed: SARIF, one JSON document, or text for a terminal.
pub(crate) enum Output<'a, R: serde::Serialize> {
    Sarif(serde_json::Value),
    Json(&'a R),
    Text(String),
}

/// Print a report to stdout in the chosen form.
pub(crate) fn print<R: serde::Serialize>(what: Output<'_, R>) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match what {
        Output::Sarif(v) => {
            serde_json::to_writer_pretty(&mut out, &v)?;
            writeln!(out)?;
        }
        Output::Json(r) => {
            serde_json::to_writer_pretty(&mut out, r)?;
            writeln!(out)?;
        }
        Output::Text(t) => out.write_all(t.as_bytes())?,
    }
    out.flush()?;
    Ok(())
}

/// The lifecycle table: the shipped rows, then the user's file (`--lifecycle`, or the XDG
/// config file when it exists).
pub(crate) fn lifecycle_table(
    global: &Global,
) -> anyhow::Result<imagewise_facts::lifecycle::Table> {
    let mut t = imagewise_facts::lifecycle::Table::builtin();
    let path = global.lifecycle.clone().or_else(|| {
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(std::path::PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".config"))
            })?;
        Some(base.join("imagewise/lifecycle.toml")).filter(|p| p.exists())
    });
    if let Some(p) = path {
        t.merge_file(&p).map_err(|e| {
            crate::InputError(format!("{e} (fix the file or leave out --lifecycle)"))
        })?;
    }
    Ok(t)
}

/// The facts of `tree`, with the support window from the user's lifecycle table when there is
/// one (the library fills it from the shipped table).
pub(crate) fn facts_of(
    tree: &ImageTree,
    global: &Global,
) -> anyhow::Result<imagewise_facts::ImageFacts> {
    let table = lifecycle_table(global)?;
    let mut facts = imagewise_facts::inspect(tree);
    facts.os.support = table.support(&facts.os, imagewise_facts::lifecycle::today());
    Ok(facts)
}

/// [`facts_of`] with what SBOMs add: dpkg licences and copyright from the packages' copyright
/// files, and the image's content digest.
pub(crate) fn facts_with_licenses(
    tree: &ImageTree,
    global: &Global,
) -> anyhow::Result<imagewise_facts::ImageFacts> {
    let table = lifecycle_table(global)?;
    let mut facts = imagewise_facts::inspect_with_licenses(tree);
    facts.os.support = table.support(&facts.os, imagewise_facts::lifecycle::today());
    Ok(facts)
}

/// Open the image named on the command line, reporting its warnings on stderr.
pub(crate) fn open_image(
    image: &str,
    args: &OpenArgs,
    global: &Global,
    json: bool,
) -> anyhow::Result<ImageTree> {
    open_image_with(image, &args.options(global, json)?, global)
}

/// The same with options already made.
pub(crate) fn open_image_with(
    image: &str,
    opts: &imagewise_source::OpenOptions,
    global: &Global,
) -> anyhow::Result<ImageTree> {
    let tree = imagewise_source::open(image, opts)
        .with_context(|| format!("cannot open image {image}"))?;
    if !global.quiet {
        for w in tree.warnings() {
            eprintln!("imagewise: warning: {image}: {w}");
        }
    }
    Ok(tree)
}
