//! Debian's machine-readable copyright files (DEP-5, `copyright-format/1.0`), as dpkg packages
//! ship them in `/usr/share/doc/PKG/copyright`: the licences of the `Files:` paragraphs and their
//! `Copyright:` lines. A file that is not in that format (no `Format:` header naming it) gives
//! nothing: its licence is not guessed from free text.
//!
//! Debian's short licence names (`GPL-2+`, `Expat`, `BSD-3-clause`, `GPL-3+ with Bison
//! exception`) are mapped to SPDX expressions (`GPL-2.0-or-later`, `MIT`, `BSD-3-Clause`,
//! `GPL-3.0-or-later WITH Bison-exception-2.2`); a name with no SPDX identifier becomes a
//! `LicenseRef-` of its own.

/// What a DEP-5 file says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dep5 {
    /// The `License:` synopsis (its first line) of each `Files:` paragraph, in order.
    pub files_licenses: Vec<String>,
    /// The `Copyright:` value of each `Files:` paragraph, in order (continuation lines kept).
    pub copyrights: Vec<String>,
}

fn field<'a>(p: &'a [(String, String)], name: &str) -> Option<&'a str> {
    p.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Parse a copyright file; `None` when it is not machine-readable.
pub fn parse(text: &str) -> Option<Dep5> {
    // Every line is a field, a continuation, a comment or blank; anything else is free text.
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    let fields_only = lines
        .iter()
        .all(|l| l.trim().is_empty() || l.starts_with([' ', '\t']) || l.contains(':'));
    if !fields_only {
        return None;
    }
    let paras = crate::dpkg::paragraphs(&lines.join("\n"));
    let header = paras.first()?;
    let format = field(header, "Format")?;
    if !format.contains("copyright-format")
        && !format.contains("dep5")
        && !format.contains("DEP-5")
        && !format.contains("dep/dep5")
    {
        return None;
    }
    let mut d = Dep5::default();
    for p in &paras[1..] {
        if field(p, "Files").is_none() {
            continue;
        }
        let license = field(p, "License").unwrap_or("");
        let synopsis = license.lines().next().unwrap_or("").trim().to_string();
        d.files_licenses.push(synopsis);
        d.copyrights
            .push(field(p, "Copyright").unwrap_or("").to_string());
    }
    Some(d)
}

/// A Debian short licence name as an SPDX licence id, or a `LicenseRef-` of its own.
fn license_id(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "expat" => return "MIT".into(),
        "artistic" | "artistic-1" | "artistic-1.0" => return "Artistic-1.0-Perl".into(),
        "bsd-2-clause" | "bsd-3-clause" | "bsd-4-clause" => {
            return format!("BSD-{}-Clause", &name[4..5]);
        }
        "bsd-4-clause-uc" => return "BSD-4-Clause-UC".into(),
        _ => {}
    }
    // GPL-2, GPL-2+, LGPL-2.1+, AGPL-3, GFDL-1.3, GFDL-NIV-1.3+.
    let (stem, plus) = match name.strip_suffix('+') {
        Some(s) => (s, true),
        None => (name, false),
    };
    for (debian, spdx, niv) in [
        ("GPL-", "GPL-", false),
        ("LGPL-", "LGPL-", false),
        ("AGPL-", "AGPL-", false),
        ("GFDL-NIV-", "GFDL-", true),
        ("GFDL-", "GFDL-", false),
    ] {
        if let Some(v) = stem.strip_prefix(debian) {
            if !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.') {
                let v = if v.contains('.') {
                    v.to_string()
                } else {
                    format!("{v}.0")
                };
                let id = format!(
                    "{spdx}{v}{}-{}",
                    if niv { "-no-invariants" } else { "" },
                    if plus { "or-later" } else { "only" }
                );
                if spdx::license_id(&id).is_some() {
                    return id;
                }
            }
        }
    }
    if let Some(l) = spdx::license_id(name) {
        return l.name.to_string();
    }
    if let Some(l) = spdx::identifiers::LICENSES
        .iter()
        .find(|l| l.name.eq_ignore_ascii_case(name))
    {
        return l.name.to_string();
    }
    license_ref(name)
}

/// `LicenseRef-` and the name with what SPDX ids do not allow replaced by `-`.
fn license_ref(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("LicenseRef-{}", s.trim_matches('-'))
}

/// The SPDX exception for Debian's `with NAME exception`, if SPDX lists one.
fn exception_id(name: &str) -> Option<String> {
    let prefix = format!("{}-exception", name.replace(' ', "-"));
    spdx::identifiers::EXCEPTIONS
        .iter()
        .filter(|e| {
            e.name.len() >= prefix.len() && e.name[..prefix.len()].eq_ignore_ascii_case(&prefix)
        })
        .map(|e| e.name.to_string())
        .next_back()
}

/// One DEP-5 licence synopsis (`GPL-2+ or Artistic`, `GPL-3+ with Bison exception`,
/// `A or B, and C`) as an SPDX expression.
pub fn to_spdx(synopsis: &str) -> Option<String> {
    let synopsis = synopsis.trim();
    if synopsis.is_empty() {
        return None;
    }
    // Commas bind loosest: `A or B, and C` is `(A OR B) AND C`.
    let mut out = String::new();
    for (i, group) in synopsis.split(',').enumerate() {
        let mut words: Vec<&str> = group.split_whitespace().collect();
        let mut joiner = "AND";
        if i > 0 {
            match words.first().map(|w| w.to_ascii_lowercase()) {
                Some(w) if w == "and" || w == "or" => {
                    joiner = if w == "or" { "OR" } else { "AND" };
                    words.remove(0);
                }
                _ => {}
            }
        }
        let mut expr: Vec<String> = Vec::new();
        let mut k = 0;
        while k < words.len() {
            let w = words[k];
            match w.to_ascii_lowercase().as_str() {
                "and" => expr.push("AND".into()),
                "or" => expr.push("OR".into()),
                "with" => {
                    // `with NAME… exception`
                    let end = words[k + 1..]
                        .iter()
                        .position(|x| x.eq_ignore_ascii_case("exception"))
                        .map_or(words.len(), |p| k + 1 + p);
                    let name = words[k + 1..end].join(" ");
                    let lic = expr.pop().unwrap_or_default();
                    match exception_id(&name) {
                        Some(e) if !lic.starts_with("LicenseRef-") => {
                            expr.push(format!("{lic} WITH {e}"));
                        }
                        _ => {
                            // No SPDX exception: the licence and its exception as one name.
                            let from = k.saturating_sub(1);
                            let to = end.min(words.len() - 1);
                            expr.push(license_ref(&words[from..=to].join(" ")));
                        }
                    }
                    k = end + 1;
                    continue;
                }
                _ => expr.push(license_id(w)),
            }
            k += 1;
        }
        if expr.is_empty() {
            continue;
        }
        let part = expr.join(" ");
        if out.is_empty() {
            out = part;
        } else {
            out = format!("({out}) {joiner} ({part})");
        }
    }
    if out.is_empty() {
        return None;
    }
    match spdx::Expression::parse(&out) {
        Ok(_) => Some(out),
        Err(_) => Some(license_ref(synopsis)),
    }
}

impl Dep5 {
    /// The package's declared licence: every `Files:` paragraph's licence, each once, joined
    /// with AND (the package holds files under each).
    pub fn declared(&self) -> Option<String> {
        let mut parts: Vec<String> = Vec::new();
        for l in &self.files_licenses {
            if let Some(e) = to_spdx(l) {
                if !parts.contains(&e) {
                    parts.push(e);
                }
            }
        }
        match parts.len() {
            0 => None,
            1 => parts.pop(),
            _ => Some(
                parts
                    .iter()
                    .map(|p| {
                        if p.contains(" OR ") || p.contains(" AND ") {
                            format!("({p})")
                        } else {
                            p.clone()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" AND "),
            ),
        }
    }

    /// The copyright lines of every `Files:` paragraph, each once, in order.
    pub fn copyright_text(&self) -> Option<String> {
        let mut lines: Vec<&str> = Vec::new();
        for c in &self.copyrights {
            for l in c
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && *l != ".")
            {
                if !lines.contains(&l) {
                    lines.push(l);
                }
            }
        }
        (!lines.is_empty()).then(|| lines.join("\n"))
    }
}

/// Copyright files past this are not read.
const MAX_COPYRIGHT: u64 = 4 << 20;

const DOC: &str = "/usr/share/doc";

/// The copyright file of a dpkg package, its doc directory followed where it is a symlink.
fn copyright_path(tree: &imagewise_source::ImageTree, package: &str) -> Option<String> {
    let name = package.split(':').next().unwrap_or(package);
    let e = tree
        .resolve(&format!("{DOC}/{name}/copyright"), true)
        .ok()?;
    (e.kind == imagewise_source::EntryKind::File).then(|| e.path.clone())
}

/// Ask for every package's copyright file.
pub(crate) fn want(tree: &imagewise_source::ImageTree, w: &mut crate::files::Wants) {
    for e in crate::files::children(tree, DOC) {
        let name = e.path.rsplit('/').next().unwrap_or("");
        if let Some(p) = copyright_path(tree, name) {
            w.whole(p, MAX_COPYRIGHT);
        }
    }
}

/// Set the licence (as an SPDX expression) and copyright text of each dpkg package whose
/// copyright file is machine-readable; count the others in a note.
pub(crate) fn apply(
    tree: &imagewise_source::ImageTree,
    files: &crate::files::Files,
    facts: &mut crate::report::ImageFacts,
) {
    let mut free_form: Vec<String> = Vec::new();
    for p in facts
        .packages
        .iter_mut()
        .filter(|p| p.ecosystem == crate::report::Ecosystem::Dpkg)
    {
        let Some(path) = copyright_path(tree, &p.name) else {
            continue;
        };
        let Some(text) = files.text(&path) else {
            continue;
        };
        match parse(&text) {
            Some(d) => {
                p.license = d.declared();
                p.copyright = d.copyright_text();
            }
            None => free_form.push(p.name.clone()),
        }
    }
    if !free_form.is_empty() {
        facts.notes.push(format!(
            "{} dpkg packages have a copyright file that is not machine-readable (DEP-5), so no licence is given for them: {}",
            free_form.len(),
            free_form.join(", ")
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_names_as_spdx() {
        for (debian, spdx) in [
            ("GPL-2+", "GPL-2.0-or-later"),
            ("GPL-2", "GPL-2.0-only"),
            ("LGPL-2.1+", "LGPL-2.1-or-later"),
            ("Expat", "MIT"),
            ("BSD-3-clause", "BSD-3-Clause"),
            (
                "GPL-1+ or Artistic",
                "GPL-1.0-or-later OR Artistic-1.0-Perl",
            ),
            (
                "GPL-3+ with Bison exception",
                "GPL-3.0-or-later WITH Bison-exception-2.2",
            ),
            ("GFDL-NIV-1.3", "GFDL-1.3-no-invariants-only"),
            ("public-domain", "LicenseRef-public-domain"),
            (
                "BSD-4-clause-UC and MIT-like",
                "BSD-4-Clause-UC AND LicenseRef-MIT-like",
            ),
            (
                "GPL-2+ or Artistic, and BSD-3-clause",
                "(GPL-2.0-or-later OR Artistic-1.0-Perl) AND (BSD-3-Clause)",
            ),
        ] {
            assert_eq!(to_spdx(debian).as_deref(), Some(spdx), "{debian}");
        }
    }

    #[test]
    fn only_machine_readable_files() {
        let dep5 = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: x\n\nFiles: *\nCopyright: 2001 A\n 2002 B\nLicense: GPL-2+\n text\n .\n more\n\nFiles: debian/*\nCopyright: 2003 C\nLicense: Expat\n\nLicense: Expat\n Permission is hereby granted\n";
        let d = parse(dep5).unwrap();
        assert_eq!(d.files_licenses, ["GPL-2+", "Expat"]);
        assert_eq!(d.declared().as_deref(), Some("GPL-2.0-or-later AND MIT"));
        assert_eq!(
            d.copyright_text().as_deref(),
            Some("2001 A\n2002 B\n2003 C")
        );
        assert_eq!(
            parse("This is the Debian prepackaged version of x.\n\nCopyright: y\n"),
            None
        );
    }
}
