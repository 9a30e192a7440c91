//! Sparse files as GNU tar writes them: old GNU (`S` members) and PAX sparse 0.1 and 1.0, read
//! back byte for byte (plain and compressed, by `open` and by `for_each_file`); 0.0 is refused.

use std::io::SeekFrom;
use std::process::Command;

use imagewise_source::{open, OpenOptions};

use crate::support::*;

fn make_sparse(dir: &std::path::Path) -> Vec<u8> {
    let mut want = vec![0u8; 20 << 20];
    want[1000..1005].copy_from_slice(b"hello");
    want[10 << 20..(10 << 20) + 6].copy_from_slice(b"middle");
    let n = want.len();
    want[n - 3..].copy_from_slice(b"end");
    // Write it with holes: only the three pieces are data.
    let f = std::fs::File::create(dir.join("sparse.bin")).unwrap();
    f.set_len(want.len() as u64).unwrap();
    use std::os::unix::fs::FileExt;
    for (at, len) in [(1000usize, 5usize), (10 << 20, 6), (n - 3, 3)] {
        f.write_all_at(&want[at..at + len], at as u64).unwrap();
    }
    want
}

#[test]
fn gnu_and_pax_sparse_members_read_back_exactly() {
    let t = tempfile::tempdir().unwrap();
    let want = make_sparse(t.path());
    for (label, args) in [
        ("gnu", vec!["--sparse", "--format=gnu"]),
        (
            "pax-1.0",
            vec!["--sparse", "--posix", "--sparse-version=1.0"],
        ),
        (
            "pax-0.1",
            vec!["--sparse", "--posix", "--sparse-version=0.1"],
        ),
        // Format 0.0 spreads the map over repeated keys.
        (
            "pax-0.0",
            vec!["--sparse", "--posix", "--sparse-version=0.0"],
        ),
    ] {
        let tar_path = t.path().join(format!("{label}.tar"));
        let st = Command::new("tar")
            .args(&args)
            .arg("-C")
            .arg(t.path())
            .arg("-cf")
            .arg(&tar_path)
            .arg("sparse.bin")
            .status()
            .unwrap();
        assert!(st.success(), "{label}");
        let plain = std::fs::read(&tar_path).unwrap();
        assert!(
            plain.len() < 1 << 20,
            "{label}: the archive should hold the holes as holes"
        );
        let gz = write(t.path(), &format!("{label}.tar.gz"), &gzip(&plain));
        for p in [tar_path.clone(), gz] {
            let tree = open(&p.display().to_string(), &OpenOptions::default()).unwrap();
            let e = tree.get("/sparse.bin").unwrap_or_else(|| {
                panic!(
                    "{label}: not listed under its real name: {:?}",
                    tree.entries()
                )
            });
            assert_eq!(e.size, want.len() as u64, "{label}");
            assert!(
                read_all(&tree, "/sparse.bin") == want,
                "{label} {}: content differs",
                p.display()
            );
            tree.for_each_file(
                |_| true,
                |_, r| {
                    let mut d = Vec::new();
                    r.read_to_end(&mut d).unwrap();
                    assert!(d == want, "{label}: for_each_file content differs");
                    Ok(())
                },
            )
            .unwrap();
            if let Some(s) = tree.open("/sparse.bin").unwrap().as_seek() {
                s.seek(SeekFrom::Start((10 << 20) + 2)).unwrap();
                let mut four = [0u8; 4];
                s.read_exact(&mut four).unwrap();
                assert_eq!(&four, b"ddle", "{label}: seek into a segment");
            }
        }
    }
}
