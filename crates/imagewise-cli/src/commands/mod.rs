//! One module per subcommand; each builds options, calls the library, renders the result.

pub(crate) mod cat;
pub(crate) mod check;
pub(crate) mod db;
pub(crate) mod inspect;
pub(crate) mod lint;
pub(crate) mod ls;
pub(crate) mod rank;
pub(crate) mod sbom;
pub(crate) mod scan;
pub(crate) mod store;
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
