//! Layers like the reference: a 3-layer image with whiteouts, an opaque directory, a file
//! replaced by a directory and a hardlink across layers merges exactly as `umoci unpack` does.

use crate::support::{fixtures, ls, shape};

#[test]
fn layered_image_merges_like_umoci_unpack() {
    let f = fixtures();
    let merged = ls(&f.join("layered-oci").display().to_string(), &["--digest"]);
    let oracle = ls(
        &format!("dir:{}", f.join("layered-unpacked").display()),
        &["--digest"],
    );
    let mut diffs = Vec::new();
    for (p, want) in &oracle {
        // The layers have no entry for the root itself: its metadata is not comparable.
        if p == "/" {
            continue;
        }
        match merged.get(p) {
            None => diffs.push(format!("missing {p}")),
            Some(got) if shape(got) != shape(want) || got.get("sha256") != want.get("sha256") => {
                diffs.push(format!("{p}: umoci {want} imagewise {got}"))
            }
            Some(_) => {}
        }
    }
    for p in merged.keys().filter(|p| !oracle.contains_key(*p)) {
        diffs.push(format!("extra {p}"));
    }
    assert!(
        diffs.is_empty(),
        "differences from umoci unpack:\n{}",
        diffs.join("\n")
    );

    // And the rules themselves, so a wrong oracle cannot hide a wrong merge.
    for gone in [
        "/keep/deleted",
        "/gone-dir",
        "/gone-dir/deep/file",
        "/opaque/a",
        "/opaque/sub",
        "/dir-becomes-file/child",
    ] {
        assert!(!merged.contains_key(gone), "{gone} should be hidden");
    }
    assert_eq!(merged["/opaque/new"]["layer"], 1);
    assert_eq!(merged["/opaque"]["mode"], "0750");
    assert_eq!(merged["/becomes-dir"]["kind"], "dir");
    assert_eq!(merged["/becomes-dir/inside"]["layer"], 1);
    assert_eq!(merged["/dir-becomes-file"]["kind"], "file");
    assert_eq!(merged["/link-to-file"]["kind"], "file");
    assert_eq!(merged["/keep/old"]["layer"], 0);
    assert_eq!(merged["/keep/added"]["layer"], 2);
    assert_eq!(merged["/keep/added"]["size"], 54);
    // The hardlink made in layer 3 to a layer-1 file: one inode, two names, same bytes.
    let (a, b) = (&merged["/data/hardlink"], &merged["/data/original"]);
    assert_eq!(b["kind"], "hardlink");
    assert_eq!(b["link"], "/data/hardlink");
    assert_eq!(a["mode"], "0600", "a hardlink has its target's mode");
    assert_eq!(a["sha256"], b["sha256"]);
}
