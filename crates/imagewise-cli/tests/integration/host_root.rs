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
