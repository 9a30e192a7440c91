//! `imagewise vercmp --ecosystem dpkg|rpm|apk|apk3|semver|pep440|maven|rubygems|composer|nuget A B`
//! — prints `<`, `=` or `>`.

use std::process::ExitCode;

use clap::Args;
use imagewise_vuln::{compare, VersionOrder};
use serde::Serialize;

#[derive(Args)]
pub(crate) struct VercmpArgs {
    /// Whose rules: dpkg (Debian, Ubuntu), rpm (RHEL, Fedora, SUSE), apk (apk-tools 2, Alpine up
    /// to 3.22), apk3 (apk-tools 3, Alpine 3.23 and later), semver
    /// (npm, Cargo, Go), pep440 (PyPI), maven, rubygems, composer (Packagist) or nuget.
    #[arg(long, short)]
    ecosystem: VersionOrder,
    /// The first version.
    a: String,
    /// The second version.
    b: String,
    /// Print {"a","b","ecosystem","order"} instead of the bare symbol.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Report<'a> {
    ecosystem: VersionOrder,
    a: &'a str,
    b: &'a str,
    order: &'static str,
}

pub(crate) fn run(a: &VercmpArgs) -> anyhow::Result<ExitCode> {
    let order = match compare(a.ecosystem, &a.a, &a.b)? {
        std::cmp::Ordering::Less => "<",
        std::cmp::Ordering::Equal => "=",
        std::cmp::Ordering::Greater => ">",
    };
    if a.json {
        let r = Report {
            ecosystem: a.ecosystem,
            a: &a.a,
            b: &a.b,
            order,
        };
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!("{order}");
    }
    Ok(ExitCode::SUCCESS)
}
