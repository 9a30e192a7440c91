//! The host's own `/` is a real image: listing it must work on a live system, where /proc and
//! /sys are kernel views, not content.

use crate::support::imagewise;

#[test]
fn the_live_root_lists_without_descending_into_proc_or_sys() {
    let out = imagewise(&["ls", "--json", "/", "/etc"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("\"path\":\"/etc/passwd\""),
        "no /etc/passwd in the host listing"
    );
    let out = imagewise(&["ls", "--json", "dir:/", "/proc"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "only the /proc mount point itself: {:?}",
        &lines[..lines.len().min(5)]
    );
    assert!(err.contains("/proc: proc filesystem mounted here"), "{err}");
}

#[test]
fn inspecting_the_live_root_names_the_host_distribution_and_its_packages() {
    let out = imagewise(&["inspect", "--json", "/"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let release = std::fs::read_to_string("/etc/os-release").unwrap();
    let id = release
        .lines()
        .find_map(|l| l.strip_prefix("ID="))
        .unwrap()
        .trim_matches('"');
    assert_eq!(v.pointer("/os/id").unwrap(), id);
    // The host runs this test, so it has a C library and the package that ships it.
    assert_ne!(v.pointer("/libc/kind").unwrap(), "none");
    let dpkg = std::process::Command::new("dpkg-query")
        .args(["-W", "-f", "${db:Status-Status}\n"])
        .output()
        .unwrap();
    let want = String::from_utf8_lossy(&dpkg.stdout)
        .lines()
        .filter(|s| !matches!(*s, "not-installed" | "config-files"))
        .count();
    // The OS packages: the host's Python, npm and Java libraries are listed too.
    let got = v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["ecosystem"] == "dpkg")
        .count();
    assert_eq!(got, want, "packages vs dpkg-query -W on the host");
}
