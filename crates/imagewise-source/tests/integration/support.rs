//! Builders for test inputs: raw tar headers (so hostile names can be written at all), gzip and
//! zstd, and OCI layouts with real digests.

use std::io::Write;
use std::path::{Path, PathBuf};

use imagewise_source::{open, Error, ImageTree, Limits, OpenOptions};
use sha2::{Digest, Sha256};

/// One raw tar member: ustar header fields and data.
pub struct Member<'a> {
    pub name: &'a str,
    pub kind: u8,
    pub data: &'a [u8],
    pub link: &'a str,
    pub mode: u32,
    /// Size written in the header; `None` means the data's length.
    pub declared: Option<u64>,
}

pub fn file<'a>(name: &'a str, data: &'a [u8]) -> Member<'a> {
    Member {
        name,
        kind: b'0',
        data,
        link: "",
        mode: 0o644,
        declared: None,
    }
}

pub fn dir(name: &str) -> Member<'_> {
    Member {
        name,
        kind: b'5',
        data: b"",
        link: "",
        mode: 0o755,
        declared: None,
    }
}

pub fn symlink<'a>(name: &'a str, target: &'a str) -> Member<'a> {
    Member {
        name,
        kind: b'2',
        data: b"",
        link: target,
        mode: 0o777,
        declared: None,
    }
}

pub fn hardlink<'a>(name: &'a str, target: &'a str) -> Member<'a> {
    Member {
        name,
        kind: b'1',
        data: b"",
        link: target,
        mode: 0o644,
        declared: None,
    }
}

fn octal(field: &mut [u8], v: u64) {
    let s = format!("{:0width$o}\0", v, width = field.len() - 1);
    field.copy_from_slice(s.as_bytes());
}

pub fn header(m: &Member) -> [u8; 512] {
    let mut h = [0u8; 512];
    assert!(
        m.name.len() <= 100 && m.link.len() <= 100,
        "test names fit ustar"
    );
    h[..m.name.len()].copy_from_slice(m.name.as_bytes());
    octal(&mut h[100..108], u64::from(m.mode));
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], m.declared.unwrap_or(m.data.len() as u64));
    octal(&mut h[136..148], 1_700_000_000);
    h[156] = m.kind;
    h[157..157 + m.link.len()].copy_from_slice(m.link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let s = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(s.as_bytes());
    h
}

pub fn tar(members: &[Member]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in members {
        out.extend_from_slice(&header(m));
        out.extend_from_slice(m.data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).unwrap()
}

pub fn sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

pub fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

pub fn opts() -> OpenOptions {
    OpenOptions::default()
}

pub fn open_path(reference: impl AsRef<str>) -> Result<ImageTree, Error> {
    open(reference.as_ref(), &opts())
}

pub fn open_limited(reference: &str, limits: Limits) -> Result<ImageTree, Error> {
    open(
        reference,
        &OpenOptions {
            limits,
            ..OpenOptions::default()
        },
    )
}

/// Write a blob into an OCI layout; returns its descriptor JSON.
pub fn blob(layout: &Path, media_type: &str, data: &[u8]) -> serde_json::Value {
    let d = sha256(data);
    let dir = layout.join("blobs/sha256");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(&d), data).unwrap();
    serde_json::json!({"mediaType": media_type, "digest": format!("sha256:{d}"), "size": data.len()})
}

pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const LAYER_GZ: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const LAYER_ZST: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

/// Write an image (config + layers) into a layout; returns the manifest descriptor.
pub fn image(layout: &Path, arch: &str, layers: &[(&str, Vec<u8>)]) -> serde_json::Value {
    let descs: Vec<serde_json::Value> = layers
        .iter()
        .map(|(mt, data)| blob(layout, mt, data))
        .collect();
    let config = serde_json::json!({
        "architecture": arch, "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": []},
        "config": {"Entrypoint": ["/bin/sh"]}
    });
    let config = blob(
        layout,
        "application/vnd.oci.image.config.v1+json",
        config.to_string().as_bytes(),
    );
    let manifest = serde_json::json!({"schemaVersion": 2, "mediaType": MANIFEST, "config": config, "layers": descs});
    blob(layout, MANIFEST, manifest.to_string().as_bytes())
}

pub fn write_index(layout: &Path, manifests: Vec<serde_json::Value>) {
    std::fs::write(
        layout.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": manifests});
    std::fs::write(layout.join("index.json"), index.to_string()).unwrap();
}

/// Every path under `dir`, to show that opening an image wrote nothing.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut v: Vec<(PathBuf, u64)> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            (e.path().to_path_buf(), e.metadata().unwrap().len())
        })
        .collect();
    v.sort();
    v
}

pub fn fixtures() -> PathBuf {
    let dir = std::env::var_os("IMAGEWISE_FIXTURES").map(PathBuf::from).expect(
        "IMAGEWISE_FIXTURES is not set: run scripts/test.sh, which builds the fixture images and sets it",
    );
    assert!(
        dir.join("bookworm-rootfs.complete").exists(),
        "no fixtures in {}: run scripts/fixtures.sh",
        dir.display()
    );
    dir
}

pub fn read_all(t: &ImageTree, path: &str) -> Vec<u8> {
    t.read(path, 1 << 30)
        .unwrap_or_else(|e| panic!("read {path}: {e}"))
}
