//! OCI index resolution: tags, multi-platform selection, nested indexes, zstd layers; and
//! docker-archives with several images.

use imagewise_source::{open, OpenOptions, Platform};

use crate::support::*;

fn with_platform(mut d: serde_json::Value, arch: &str, variant: Option<&str>) -> serde_json::Value {
    let mut p = serde_json::json!({"architecture": arch, "os": "linux"});
    if let Some(v) = variant {
        p["variant"] = serde_json::json!(v);
    }
    d["platform"] = p;
    d
}

fn with_tag(mut d: serde_json::Value, tag: &str) -> serde_json::Value {
    d["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": tag});
    d
}

fn layer_saying(text: &str) -> Vec<u8> {
    tar(&[dir("etc"), file("etc/which", text.as_bytes())])
}

fn which(reference: &str, platform: Option<&str>) -> Result<String, String> {
    let opts = OpenOptions {
        platform: platform.map(|p| Platform::parse(p).unwrap()),
        ..OpenOptions::default()
    };
    let t = open(reference, &opts).map_err(|e| e.to_string())?;
    Ok(String::from_utf8(read_all(&t, "/etc/which")).unwrap())
}

#[test]
fn multi_platform_index_picks_the_host_or_the_asked_platform() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("multi");
    let amd = image(&d, "amd64", &[(LAYER_GZ, gzip(&layer_saying("amd64")))]);
    let arm = image(&d, "arm64", &[(LAYER_ZST, zstd(&layer_saying("arm64")))]);
    let armv7 = image(&d, "arm", &[(LAYER_GZ, gzip(&layer_saying("armv7")))]);
    write_index(
        &d,
        vec![
            with_platform(amd, "amd64", None),
            with_platform(arm, "arm64", Some("v8")),
            with_platform(armv7, "arm", Some("v7")),
        ],
    );
    let r = format!("oci:{}", d.display());
    let host = Platform::host().architecture;
    if host == "amd64" || host == "arm64" {
        assert_eq!(which(&r, None).unwrap(), host);
    }
    assert_eq!(which(&r, Some("linux/arm64")).unwrap(), "arm64");
    assert_eq!(which(&r, Some("linux/aarch64")).unwrap(), "arm64");
    assert_eq!(which(&r, Some("linux/arm/v7")).unwrap(), "armv7");
    let e = which(&r, Some("linux/s390x")).unwrap_err();
    assert!(
        e.contains("no image for platform linux/s390x") && e.contains("linux/arm64/v8"),
        "{e}"
    );
    let tree = open(
        &r,
        &OpenOptions {
            platform: Some(Platform::parse("linux/arm64").unwrap()),
            ..OpenOptions::default()
        },
    )
    .unwrap();
    assert_eq!(tree.info().platform.as_deref(), Some("linux/arm64"));
    assert_eq!(
        tree.info().layers[0].compression,
        imagewise_source::Compression::Zstd
    );
}

#[test]
fn nested_index_and_tags() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("nested");
    let amd = with_platform(
        image(&d, "amd64", &[(LAYER_GZ, gzip(&layer_saying("v1-amd64")))]),
        "amd64",
        None,
    );
    let arm = with_platform(
        image(&d, "arm64", &[(LAYER_GZ, gzip(&layer_saying("v1-arm64")))]),
        "arm64",
        None,
    );
    let inner =
        serde_json::json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": [amd, arm]});
    let inner = blob(&d, INDEX, inner.to_string().as_bytes());
    let v2 = image(&d, "amd64", &[(LAYER_GZ, gzip(&layer_saying("v2")))]);
    write_index(&d, vec![with_tag(inner, "v1"), with_tag(v2, "v2")]);
    let base = d.display().to_string();
    assert_eq!(
        which(&format!("oci:{base}:v1"), Some("linux/arm64")).unwrap(),
        "v1-arm64"
    );
    assert_eq!(
        which(&format!("oci:{base}:v1"), Some("linux/amd64")).unwrap(),
        "v1-amd64"
    );
    assert_eq!(which(&format!("oci:{base}:v2"), None).unwrap(), "v2");
    let e = which(&format!("oci:{base}:v3"), None).unwrap_err();
    assert!(e.contains("v1, v2"), "{e}");
    // Two tagged images and no tag: ambiguous, and the message says how to choose.
    let e = which(&format!("oci:{base}"), Some("linux/amd64")).unwrap_err();
    assert!(e.contains("PATH:TAG"), "{e}");
}

#[test]
fn an_index_that_includes_itself_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("loop");
    std::fs::create_dir_all(d.join("blobs/sha256")).unwrap();
    // A blob cannot contain its own digest, but a chain deeper than any real one stands in.
    let mut desc = image(&d, "amd64", &[(LAYER_GZ, gzip(&layer_saying("deep")))]);
    for _ in 0..12 {
        let idx = serde_json::json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": [desc]});
        desc = blob(&d, INDEX, idx.to_string().as_bytes());
    }
    write_index(&d, vec![desc]);
    let e = which(&format!("oci:{}", d.display()), None).unwrap_err();
    assert!(e.contains("nest too deeply"), "{e}");
}

#[test]
fn oci_archive_reads_in_place() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("layout");
    let m = image(&d, "amd64", &[(LAYER_GZ, gzip(&layer_saying("archived")))]);
    write_index(&d, vec![with_tag(m, "latest")]);
    let out = t.path().join("img.tar");
    let st = std::process::Command::new("tar")
        .args(["-C", d.to_str().unwrap(), "-cf", out.to_str().unwrap(), "."])
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(
        which(&format!("oci-archive:{}:latest", out.display()), None).unwrap(),
        "archived"
    );
    // Detected without a prefix, too.
    assert_eq!(which(&out.display().to_string(), None).unwrap(), "archived");
    // A compressed outer archive gets advice, not a wrong answer.
    let gz = write(t.path(), "img.tar.gz", &gzip(&std::fs::read(&out).unwrap()));
    let e = which(&format!("oci-archive:{}", gz.display()), None).unwrap_err();
    assert!(e.contains("decompress it first"), "{e}");
}

#[test]
fn docker_archive_with_two_images_and_a_shared_layer_symlink() {
    let t = tempfile::tempdir().unwrap();
    let base = layer_saying("base");
    let top = tar(&[file("etc/top", b"top")]);
    let diff = |b: &[u8]| format!("sha256:{}", sha256(b));
    let cfg_a = serde_json::json!({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[diff(&base)]}}).to_string();
    let cfg_b = serde_json::json!({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[diff(&base), diff(&top)]}}).to_string();
    let (ha, hb) = (sha256(cfg_a.as_bytes()), sha256(cfg_b.as_bytes()));
    let manifest = serde_json::json!([
        {"Config": format!("{ha}.json"), "RepoTags": ["example/a:1"], "Layers": ["aaa/layer.tar"]},
        {"Config": format!("{hb}.json"), "RepoTags": ["example/b:2", "docker.io/library/bee:latest"], "Layers": ["bbb/layer.tar", "ccc/layer.tar"]}
    ]);
    let outer = tar(&[
        file(&format!("{ha}.json"), cfg_a.as_bytes()),
        file(&format!("{hb}.json"), cfg_b.as_bytes()),
        dir("aaa"),
        file("aaa/layer.tar", &base),
        dir("bbb"),
        // docker save writes a repeated layer once and links to it.
        symlink("bbb/layer.tar", "../aaa/layer.tar"),
        dir("ccc"),
        file("ccc/layer.tar", &top),
        file("manifest.json", manifest.to_string().as_bytes()),
    ]);
    let p = write(t.path(), "two.tar", &outer);
    let r = format!("docker-archive:{}", p.display());
    let e = open_path(&r).unwrap_err().to_string();
    assert!(e.contains("2 images") && e.contains("example/a:1"), "{e}");
    let a = open_path(format!("{r}:example/a:1")).unwrap();
    assert!(a.get("/etc/top").is_none());
    let b = open_path(format!("{r}:bee:latest")).unwrap();
    assert_eq!(read_all(&b, "/etc/top"), b"top");
    assert_eq!(read_all(&b, "/etc/which"), b"base");
    assert_eq!(b.get("/etc/top").unwrap().layer, Some(1));
    assert_eq!(b.info().layers.len(), 2);
    // Autodetected from manifest.json.
    let e = open_path(p.display().to_string()).unwrap_err().to_string();
    assert!(e.contains("2 images"), "{e}");
}

#[test]
fn a_docker_25_save_with_both_layouts_is_a_docker_archive() {
    // Docker 25+ writes an OCI layout plus manifest.json; DESIGN.md: manifest.json wins.
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("save");
    let layer = layer_saying("docker25");
    let m = image(
        &d,
        "amd64",
        &[("application/vnd.oci.image.layer.v1.tar", layer)],
    );
    write_index(&d, vec![m.clone()]);
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            d.join("blobs/sha256")
                .join(&m["digest"].as_str().unwrap()[7..]),
        )
        .unwrap(),
    )
    .unwrap();
    let blob =
        |v: &serde_json::Value| format!("blobs/sha256/{}", &v["digest"].as_str().unwrap()[7..]);
    let docker = serde_json::json!([{
        "Config": blob(&manifest["config"]),
        "RepoTags": ["example:25"],
        "Layers": [blob(&manifest["layers"][0])],
    }]);
    std::fs::write(d.join("manifest.json"), docker.to_string()).unwrap();
    let out = t.path().join("save.tar");
    // oci-layout first, so a first-match detector would say oci-archive.
    let st = std::process::Command::new("tar")
        .args([
            "-C",
            d.to_str().unwrap(),
            "-cf",
            out.to_str().unwrap(),
            "oci-layout",
            "index.json",
            "blobs",
            "manifest.json",
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let tree = open_path(out.display().to_string()).unwrap();
    assert_eq!(tree.info().format, imagewise_source::Format::DockerArchive);
    assert_eq!(tree.info().tags, vec!["example:25".to_string()]);
    assert_eq!(read_all(&tree, "/etc/which"), b"docker25");
    // Named explicitly, the same file opens as an OCI archive too.
    let tree = open_path(format!("oci-archive:{}", out.display())).unwrap();
    assert_eq!(tree.info().format, imagewise_source::Format::OciArchive);
}
