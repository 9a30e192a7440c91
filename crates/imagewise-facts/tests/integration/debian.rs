//! A debootstrap bookworm rootfs, through every format the source crate opens, against
//! `dpkg-query` on the same tree.

use std::collections::BTreeSet;
use std::process::Command;

use imagewise_facts::{Ecosystem, ImageFacts, LibcKind};

use crate::support::{fixtures, inspect, run};

type Row = (String, String, String, String, String);

/// name, version, arch, source name, source version of the installed packages, per dpkg-query.
fn dpkg_query(root: &str, only: Option<&[&str]>) -> BTreeSet<Row> {
    let out = run(Command::new("dpkg-query")
        .arg(format!("--admindir={root}/var/lib/dpkg"))
        .args(["-W", "-f", "${Package}\t${Version}\t${Architecture}\t${source:Package}\t${source:Version}\t${db:Status-Status}\n"]));
    out.lines()
        .map(|l| l.split('\t').map(str::to_string).collect::<Vec<_>>())
        .filter(|f| !matches!(f[5].as_str(), "not-installed" | "config-files"))
        .filter(|f| only.is_none_or(|o| o.contains(&f[0].as_str())))
        .map(|f| {
            (
                f[0].clone(),
                f[1].clone(),
                f[2].clone(),
                f[3].clone(),
                f[4].clone(),
            )
        })
        .collect()
}

fn ours(f: &ImageFacts) -> BTreeSet<Row> {
    f.packages
        .iter()
        .map(|p| {
            assert_eq!(p.ecosystem, Ecosystem::Dpkg);
            (
                p.name.clone(),
                p.version.clone(),
                p.arch.clone().unwrap_or_default(),
                p.source_name.clone(),
                p.source_version.clone(),
            )
        })
        .collect()
}

fn check(name: &str, f: &ImageFacts, want: &BTreeSet<Row>) {
    let got = ours(f);
    let missing: Vec<_> = want.difference(&got).collect();
    let extra: Vec<_> = got.difference(want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{name}: packages differ from dpkg-query\nmissing: {missing:?}\nextra: {extra:?}"
    );
    assert_eq!(f.packages.len(), want.len(), "{name}: duplicates");
    let libc6 = want
        .iter()
        .find(|r| r.0 == "libc6")
        .expect("libc6 installed");
    assert_eq!(f.os.id.as_deref(), Some("debian"), "{name}");
    assert_eq!(f.os.version_id.as_deref(), Some("12"), "{name}");
    assert_eq!(f.os.version_codename.as_deref(), Some("bookworm"), "{name}");
    assert_eq!(f.libc.kind, LibcKind::Glibc, "{name}");
    let upstream = libc6.1.split('-').next().unwrap();
    assert_eq!(
        f.libc.version.as_deref(),
        Some(upstream),
        "{name}: libc version vs libc6 {}",
        libc6.1
    );
    assert_eq!(f.libc.version_source.as_deref(), Some("binary"), "{name}");
    assert_eq!(
        f.arch.as_deref(),
        Some(libc6.2.as_str()),
        "{name}: arch vs libc6's"
    );
    assert!(!f.arch_detail.mixed, "{name}: {:?}", f.arch_detail);
    for p in &f.packages {
        // The purl parses back to the package (names like libstdc++6 are percent-encoded).
        let purl: packageurl::PackageUrl = p.purl.parse().unwrap();
        assert_eq!(
            (purl.ty(), purl.namespace(), purl.name()),
            ("deb", Some("debian"), p.name.as_str())
        );
        assert_eq!(purl.version(), Some(p.version.as_str()));
        assert_eq!(
            purl.qualifiers().get("distro").map(|d| d.as_ref()),
            Some("debian-12")
        );
        assert_eq!(
            purl.qualifiers().get("arch").map(|d| d.as_ref()),
            p.arch.as_deref()
        );
    }
}

#[test]
fn bookworm_packages_os_libc_and_arch_match_dpkg_in_every_format() {
    let fx = fixtures();
    let root = fx.join("bookworm-rootfs");
    let want = dpkg_query(root.to_str().unwrap(), None);
    assert!(
        want.len() > 50,
        "debootstrap minbase has ~90 packages, dpkg-query gave {}",
        want.len()
    );
    // Source names really differ from binary names in a real rootfs (libc6 ← glibc).
    assert!(want.iter().any(|r| r.0 != r.3));
    for reference in [
        format!("dir:{}", root.display()),
        format!("tar:{}", fx.join("bookworm.tar").display()),
        format!("tar:{}", fx.join("bookworm.tar.zst").display()),
        format!("oci:{}:latest", fx.join("bookworm-oci").display()),
        format!(
            "docker-archive:{}",
            fx.join("bookworm-docker.tar").display()
        ),
        format!("disk:{}", fx.join("bookworm-gpt.raw").display()),
        format!("disk:{}", fx.join("bookworm-gpt.qcow2").display()),
    ] {
        let f = inspect(&reference);
        check(&reference, &f, &want);
        assert_eq!(
            f.libc.max_symbol_version,
            readelf_max_glibc(&root),
            "{reference}"
        );
    }
}

/// The highest `GLIBC_x.y` that `readelf -V` lists among libc.so.6's version definitions.
fn readelf_max_glibc(root: &std::path::Path) -> Option<String> {
    let arch = run(Command::new("dpkg").arg("--print-architecture"));
    let triplet = match arch.trim() {
        "amd64" => "x86_64-linux-gnu",
        "arm64" => "aarch64-linux-gnu",
        other => panic!("add the multiarch triplet for {other}"),
    };
    let out = run(Command::new("readelf")
        .arg("-V")
        .arg(root.join(format!("usr/lib/{triplet}/libc.so.6"))));
    let defs = out
        .split("Version definition section")
        .nth(1)?
        .split("Version needs section")
        .next()?;
    defs.split_whitespace()
        .filter(|w| w.starts_with("GLIBC_2"))
        .max_by_key(|w| {
            w[6..]
                .split('.')
                .map(|p| p.parse::<u32>().unwrap_or(0))
                .collect::<Vec<_>>()
        })
        .map(str::to_string)
}

#[test]
fn distroless_status_d_matches_dpkg_for_those_packages() {
    let fx = fixtures();
    let names = ["base-files", "libc6", "libgcc-s1", "gcc-12-base", "tzdata"];
    let want = dpkg_query(fx.join("bookworm-rootfs").to_str().unwrap(), Some(&names));
    assert_eq!(want.len(), names.len());
    let f = inspect(fx.join("distroless-rootfs").to_str().unwrap());
    assert_eq!(ours(&f), want);
    assert_eq!(f.package_databases.len(), 1);
    assert_eq!(f.package_databases[0].format, "dpkg-status.d");
    assert!(
        f.package_databases[0].problems.is_empty(),
        "{:?}",
        f.package_databases[0].problems
    );
}
