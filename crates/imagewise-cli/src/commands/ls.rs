//! `imagewise ls IMAGE [PATH]` — text like `ls -l`, or `--json`: one object per line.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufWriter, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use imagewise_source::{Entry, EntryKind};
use serde::Serialize;
use sha2::{Digest, Sha256};

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

/// One line of `ls --json`; the documented, stable shape.
#[derive(Serialize)]
struct Line<'a> {
    path: &'a str,
    kind: &'static str,
    mode: String,
    uid: u32,
    gid: u32,
    size: u64,
    mtime: i64,
    mtime_nsec: u32,
    link: Option<&'a str>,
    layer: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<[u32; 2]>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    xattrs: BTreeMap<&'a str, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<&'a str>,
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
    let mut digests: HashMap<String, String> = HashMap::new();
    if digest {
        // The files listed, and the primary names of listed hardlinks wherever they are.
        let mut wanted: std::collections::HashSet<&str> = entries
            .iter()
            .filter(|e| e.kind == EntryKind::File)
            .map(|e| e.path.as_str())
            .collect();
        wanted.extend(
            entries
                .iter()
                .filter(|e| e.kind == EntryKind::Hardlink)
                .filter_map(|e| e.link.as_deref()),
        );
        tree.for_each_file(
            |e| wanted.contains(e.path.as_str()),
            |e, r| {
                let mut h = Sha256::new();
                let mut buf = vec![0u8; 256 * 1024];
                loop {
                    let n = r
                        .read(&mut buf)
                        .map_err(|err| imagewise_source::Error::Io {
                            path: e.path.clone().into(),
                            source: err,
                        })?;
                    if n == 0 {
                        break;
                    }
                    h.update(&buf[..n]);
                }
                digests.insert(e.path.clone(), hex::encode(h.finalize()));
                Ok(())
            },
        )
        .with_context(|| format!("reading files of {image}"))?;
    }
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for e in entries {
        // A hardlink shares its primary name's content.
        let digest = match (e.kind, &e.link) {
            (EntryKind::Hardlink, Some(l)) => digests.get(l),
            _ => digests.get(&e.path),
        };
        if json {
            let line = Line {
                path: &e.path,
                kind: e.kind.as_str(),
                mode: octal4(e.mode),
                uid: e.uid,
                gid: e.gid,
                size: e.size,
                mtime: e.mtime,
                mtime_nsec: e.mtime_nsec,
                link: e.link.as_deref(),
                layer: e.layer,
                device: e.device.map(|(a, b)| [a, b]),
                xattrs: e
                    .xattrs
                    .iter()
                    .map(|(k, v)| (k.as_str(), hex::encode(v)))
                    .collect(),
                sha256: digest.map(String::as_str),
            };
            serde_json::to_writer(&mut out, &line)?;
            out.write_all(b"\n")?;
        } else {
            write_text(&mut out, e, digest.map(String::as_str))?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn write_text(out: &mut impl Write, e: &Entry, digest: Option<&str>) -> std::io::Result<()> {
    let t = match e.kind {
        EntryKind::File | EntryKind::Hardlink => '-',
        EntryKind::Dir => 'd',
        EntryKind::Symlink => 'l',
        EntryKind::Char => 'c',
        EntryKind::Block => 'b',
        EntryKind::Fifo => 'p',
        EntryKind::Socket => 's',
    };
    let mut perm = String::with_capacity(10);
    perm.push(t);
    for (shift, special, lower, upper) in [
        (6, 0o4000, 's', 'S'),
        (3, 0o2000, 's', 'S'),
        (0, 0o1000, 't', 'T'),
    ] {
        let bits = (e.mode >> shift) & 7;
        perm.push(if bits & 4 != 0 { 'r' } else { '-' });
        perm.push(if bits & 2 != 0 { 'w' } else { '-' });
        let x = bits & 1 != 0;
        perm.push(match (e.mode & special != 0, x) {
            (true, true) => lower,
            (true, false) => upper,
            (false, true) => 'x',
            (false, false) => '-',
        });
    }
    let size = match e.device {
        Some((ma, mi)) => format!("{ma},{mi}"),
        None => e.size.to_string(),
    };
    let when = jiff::Timestamp::from_second(e.mtime)
        .map(|t| t.strftime("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|_| e.mtime.to_string());
    write!(
        out,
        "{perm} {:>5}/{:<5} {size:>10} {when} {}",
        e.uid, e.gid, e.path
    )?;
    match (e.kind, &e.link) {
        (EntryKind::Symlink, Some(l)) => write!(out, " -> {l}")?,
        (EntryKind::Hardlink, Some(l)) => write!(out, " link to {l}")?,
        _ => {}
    }
    if let Some(d) = digest {
        write!(out, " sha256:{d}")?;
    }
    writeln!(out)
}

/// `0755`-style permission bits without going through `format!` (a hot path at a million lines).
fn octal4(mode: u32) -> String {
    let digit = |shift: u32| char::from(b'0' + ((mode >> shift) & 7) as u8);
    [digit(9), digit(6), digit(3), digit(0)].iter().collect()
}
