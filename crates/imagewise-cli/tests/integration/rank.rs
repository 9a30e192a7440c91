//! `imagewise rank` on real images, each expected winner and rejection reason taken from the
//! oracles: the candidates' own dynamic loaders, readelf, dpkg-query and `dpkg --compare-versions`.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::*;

fn rank(args: &[&str]) -> (Value, i32) {
    let mut a = vec!["rank", "--json"];
    a.extend_from_slice(args);
    let out = imagewise(&a);
    let code = out.status.code().unwrap();
    assert!(
        code == 0 || code == 1,
        "rank {args:?}: {code}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (serde_json::from_slice(&out.stdout).unwrap(), code)
}

fn passed(v: &Value) -> Vec<String> {
    v["passed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reference"].as_str().unwrap().to_string())
        .collect()
}

fn reasons(v: &Value, reference: &str) -> Vec<String> {
    v["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["reference"] == reference)
        .unwrap_or_else(|| panic!("{reference} not rejected: {v}"))["unmet"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            format!(
                "{}; the image has {}",
                u["needed"].as_str().unwrap(),
                u["found"].as_str().unwrap()
            )
        })
        .collect()
}

fn sh_out(cmd: &str) -> (String, String, bool) {
    let o = Command::new("bash").args(["-c", cmd]).output().unwrap();
    (
        String::from_utf8_lossy(&o.stdout).trim().to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
        o.status.success(),
    )
}

/// The `GLIBC_x.y` versions a root's own loader says are missing for `program`.
fn loader_missing(root: &Path, program: &Path) -> Vec<String> {
    let (_, err, ok) = sh_out(&format!(
        "{r}/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 --library-path {r}/lib/x86_64-linux-gnu {p} --version",
        r = root.display(),
        p = program.display()
    ));
    assert!(
        !ok,
        "{} runs {} after all",
        root.display(),
        program.display()
    );
    let mut v: Vec<String> = err
        .split('`')
        .skip(1)
        .filter_map(|s| s.split('\'').next())
        .filter(|s| s.starts_with("GLIBC_"))
        .map(str::to_string)
        .collect();
    v.sort();
    v.dedup();
    v
}

#[test]
fn trixies_ls_runs_only_on_trixie() {
    let f = fixtures();
    let ls = f.join("trixie-rootfs/usr/bin/ls");
    let roots: Vec<String> = ["bullseye-rootfs", "bookworm-rootfs", "trixie-rootfs"]
        .iter()
        .map(|r| f.join(r).display().to_string())
        .collect();
    let spec = format!("app={}", ls.display());
    let mut args = vec!["--require", spec.as_str()];
    args.extend(roots.iter().map(String::as_str));
    let (v, code) = rank(&args);
    assert_eq!(code, 0);
    assert_eq!(passed(&v), [roots[2].clone()], "{v}");
    for old in &roots[..2] {
        let missing = loader_missing(Path::new(old), &ls);
        assert!(!missing.is_empty());
        let why = reasons(&v, old).join("\n");
        for m in &missing {
            assert!(
                why.contains(m.as_str()),
                "{old}: the loader misses {m}; rank says:\n{why}"
            );
        }
        // And the image's own glibc, as dpkg records it.
        let (libc6, _, _) = sh_out(&format!(
            "dpkg-query --admindir={old}/var/lib/dpkg -W -f '${{Version}}' libc6"
        ));
        let upstream = libc6.split('-').next().unwrap();
        assert!(
            why.contains(&format!("glibc {upstream}")),
            "{old} has glibc {upstream}:\n{why}"
        );
    }
}

#[test]
fn arm64_and_musl_pick_the_aarch64_alpine() {
    let f = fixtures();
    let cands: Vec<String> = ["alpine-rootfs", "alpine-arm64-rootfs", "bookworm-rootfs"]
        .iter()
        .map(|r| f.join(r).display().to_string())
        .collect();
    let mut args = vec!["--require", "arch=arm64 libc=musl"];
    args.extend(cands.iter().map(String::as_str));
    let (v, _) = rank(&args);
    // Oracle: readelf on each tree's busybox or ls, and the musl loader on disk.
    let expected: Vec<String> = cands
        .iter()
        .filter(|c| {
            let bin = ["bin/busybox", "usr/bin/ls"]
                .iter()
                .map(|b| Path::new(c).join(b))
                .find(|p| p.exists())
                .unwrap();
            let (h, _, _) = sh_out(&format!("readelf -h {}", bin.display()));
            h.contains("AArch64") && Path::new(c).join("lib/ld-musl-aarch64.so.1").exists()
        })
        .cloned()
        .collect();
    assert_eq!(expected.len(), 1);
    assert_eq!(passed(&v), expected, "{v}");
    let why = reasons(&v, &cands[2]).join("\n");
    assert!(
        why.contains("arch arm64 required; the image has amd64"),
        "{why}"
    );
    assert!(why.contains("musl required; the image has glibc"), "{why}");
}

#[test]
fn a_vm_disk_with_cloud_init() {
    let f = fixtures();
    let disks: Vec<String> = [
        "bullseye-vm.qcow2",
        "bullseye-server.qcow2",
        "bookworm-gpt.qcow2",
    ]
    .iter()
    .map(|d| f.join(d).display().to_string())
    .collect();
    let mut args = vec!["--require", "form=vm agent=cloud-init"];
    args.extend(disks.iter().map(String::as_str));
    let (v, _) = rank(&args);
    // Oracle: dpkg's own database on each disk, read with debugfs from a raw copy.
    let t = tempfile::tempdir().unwrap();
    let mut expected = Vec::new();
    for d in &disks {
        let raw = t.path().join("d.raw");
        let (_, _, ok) = sh_out(&format!("qemu-img convert -O raw {d} {}", raw.display()));
        assert!(ok);
        let (part, _, _) = sh_out(&format!(
            "sfdisk -J {r} 2>/dev/null | jq -r '.partitiontable.partitions[] | select(.type==\"0FC63DAF-8483-4772-8E79-3D69D8477DE4\") | .start' | head -1",
            r = raw.display()
        ));
        let offset = part.parse::<u64>().map(|s| s * 512).unwrap_or(0);
        let (status, _, _) = sh_out(&format!(
            "dd if={r} bs=1M iflag=skip_bytes skip={offset} status=none of={r}.fs && debugfs -R 'cat /var/lib/dpkg/status' {r}.fs 2>/dev/null",
            r = raw.display()
        ));
        if status.contains("Package: cloud-init\n") {
            expected.push(d.clone());
        }
    }
    assert_eq!(expected, [disks[0].clone()]);
    assert_eq!(passed(&v), expected, "{v}");
    let why = reasons(&v, &disks[1]).join("\n");
    assert!(
        why.contains("cloud-init required; the image has it is not installed"),
        "{why}"
    );
}

#[test]
fn package_versions_follow_dpkg_order_not_string_order() {
    let f = fixtures();
    let roots: Vec<String> = ["bullseye-rootfs", "bookworm-rootfs", "trixie-rootfs"]
        .iter()
        .map(|r| f.join(r).display().to_string())
        .collect();
    let want = "2.10";
    let mut expected = Vec::new();
    let mut string_order_disagrees = false;
    for r in &roots {
        let (have, _, _) = sh_out(&format!(
            "dpkg-query --admindir={r}/var/lib/dpkg -W -f '${{Version}}' apt"
        ));
        let (_, _, ge) = sh_out(&format!("dpkg --compare-versions '{have}' ge '{want}'"));
        if ge {
            expected.push(r.clone());
        }
        string_order_disagrees |= (have.as_str() >= want) != ge;
    }
    assert!(
        string_order_disagrees,
        "the fixtures no longer tell the orders apart"
    );
    let spec = format!("pkg:apt>={want}");
    let mut args = vec!["--require", spec.as_str()];
    args.extend(roots.iter().map(String::as_str));
    let (v, _) = rank(&args);
    let mut got = passed(&v);
    got.sort();
    expected.sort();
    assert_eq!(got, expected, "{v}");
}

#[test]
fn pick_exit_codes_and_bad_specs() {
    let f = fixtures();
    let a = f.join("alpine-rootfs").display().to_string();
    let b = f.join("bookworm-rootfs").display().to_string();
    // `--pick` prints the winner alone: the one candidate with musl here.
    let out = ok(&[
        "rank",
        "--pick",
        "--require",
        "arch=amd64 libc=musl",
        &a,
        &b,
    ]);
    assert_eq!(String::from_utf8_lossy(&out).trim(), a);
    // With both passing, it is the first of the ranked list.
    let out = ok(&["rank", "--pick", "--require", "arch=amd64", &a, &b]);
    let (v, _) = rank(&["--require", "arch=amd64", &a, &b]);
    assert_eq!(
        String::from_utf8_lossy(&out).trim(),
        v["passed"][0]["reference"],
        "{v}"
    );
    let none = imagewise(&["rank", "--pick", "--require", "arch=s390x", &a, &b]);
    assert_eq!(none.status.code(), Some(1));
    assert!(none.stdout.is_empty());
    // A candidate that cannot be opened is rejected with the reason; the others are ranked.
    let missing = f.join("no-such-image").display().to_string();
    let (v, code) = rank(&["--require", "arch=amd64", &missing, &a]);
    assert_eq!(code, 0);
    assert_eq!(passed(&v), std::slice::from_ref(&a));
    assert!(
        reasons(&v, &missing)[0].contains("cannot open image"),
        "{v}"
    );
    let bad = imagewise(&["rank", "--require", "arch=amd64 colour=blue", &a]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a requirement"));
    // The TOML example, as written, is accepted (vulnerabilities cannot be judged
    // without a database: they are named as unmet, not ignored; support is judged by the
    // lifecycle table: bookworm's standard support ran to 2026-07-11).
    let t = tempfile::tempdir().unwrap();
    let spec = t.path().join("req.toml");
    std::fs::write(
        &spec,
        format!(
            "arch = [\"amd64\"]\n[libc]\nkind = \"glibc\"\nmin_version = \"2.31\"\n[[app]]\npath = \"{}\"\n[[package]]\nname = \"coreutils\"\nversion = \">= 8.32\"\n[vulnerabilities]\nmax_critical = 0\n[support]\nuntil_at_least = \"2026-06-30\"\n[weights]\nsize = 1.0\nsupport = 2.0\n",
            f.join("bookworm-rootfs/usr/bin/ls").display()
        ),
    )
    .unwrap();
    let (v, code) = rank(&["--require", spec.to_str().unwrap(), &b]);
    assert_eq!(code, 1);
    let why = reasons(&v, &b).join("\n");
    assert!(
        why.contains("not scanned") && !why.contains("support"),
        "{why}"
    );
    assert!(
        !why.contains("coreutils") && !why.contains("GLIBC"),
        "{why}"
    );
}
