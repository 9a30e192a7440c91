//! `oci:` and `oci-archive:` — the OCI image layout (image-spec `image-layout.md`): `oci-layout`,
//! `index.json` → (nested indexes →) manifest → config + layers, every blob checked against its
//! descriptor's digest and size. Multi-platform indexes are resolved by `--platform`, default
//! the host's.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest};

use crate::blob::{ByteRange, Digest, HashingReader};
use crate::error::{Error, Result};
use crate::info::{Format, ImageInfo};
use crate::layers::{self, LayerSource, Layers};
use crate::platform::Platform;
use crate::store::Store;
use crate::tree::{Backend, ImageTree, TreeBuilder};
use crate::OpenOptions;
use imagewise_types::Progress;

/// JSON documents (index, manifest, config) larger than this are refused.
pub(crate) const MAX_DOCUMENT: u64 = 16 << 20;
const MAX_INDEX_DEPTH: usize = 8;
const REF_NAME: &str = "org.opencontainers.image.ref.name";

pub(crate) fn open(
    reference: &str,
    format: Format,
    location: &Path,
    store: Store,
    tag: Option<&str>,
    opts: &OpenOptions,
    progress: &dyn Progress,
) -> Result<ImageTree> {
    let what = reference;
    let layout = store.require("oci-layout", what)?;
    let layout: serde_json::Value =
        serde_json::from_slice(&layout.read_all(what, MAX_DOCUMENT)?)
            .map_err(|e| Error::corrupt(format!("{what}: oci-layout"), e.to_string()))?;
    match layout.get("imageLayoutVersion").and_then(|v| v.as_str()) {
        Some(v) if v.starts_with("1.") => {}
        Some(v) => {
            return Err(Error::unsupported(
                what,
                format!("image layout version {v} (imagewise reads 1.x)"),
            ))
        }
        None => {
            return Err(Error::corrupt(
                format!("{what}: oci-layout"),
                "no imageLayoutVersion",
            ))
        }
    }
    let index_bytes = store
        .require("index.json", what)?
        .read_all(what, MAX_DOCUMENT)?;
    let index = ImageIndex::from_reader(&index_bytes[..])
        .map_err(|e| Error::corrupt(format!("{what}: index.json"), e.to_string()))?;

    let mut candidates: Vec<Descriptor> = index.manifests().clone();
    // Signatures, attestations and other artifacts stored beside an image are not images to
    // choose among (unless named by tag).
    if tag.is_none() && candidates.iter().any(|d| !is_artifact(d)) {
        candidates.retain(|d| !is_artifact(d));
    }
    let mut tags: Vec<String> = Vec::new();
    if let Some(tag) = tag {
        candidates.retain(|d| ref_name(d).is_some_and(|n| n == tag));
        if candidates.is_empty() {
            return Err(Error::not_found(
                what,
                format!(
                    "no image tagged {tag:?}; tags in index.json: {}",
                    list_tags(&index)
                ),
            ));
        }
        tags.push(tag.to_string());
    }
    let wanted = opts.platform.clone().unwrap_or_else(Platform::host);
    let manifest_desc = select(
        &store,
        what,
        candidates,
        &wanted,
        opts.platform.is_some(),
        0,
    )?;
    if tags.is_empty() {
        tags.extend(ref_name(&manifest_desc).map(str::to_string));
    }
    let manifest_bytes = read_blob(&store, &manifest_desc, what, "manifest")?;
    let manifest = ImageManifest::from_reader(&manifest_bytes[..]).map_err(|e| {
        Error::corrupt(
            format!("{what}: manifest {}", manifest_desc.digest()),
            e.to_string(),
        )
    })?;

    let config_bytes = read_blob(&store, manifest.config(), what, "config")?;
    let config: serde_json::Value = serde_json::from_slice(&config_bytes).map_err(|e| {
        Error::corrupt(
            format!("{what}: config {}", manifest.config().digest()),
            e.to_string(),
        )
    })?;
    let platform = Platform::from_config(&config);
    if let (Some(asked), Some(got)) = (&opts.platform, &platform) {
        if !asked.compatible(got) {
            return Err(Error::not_found(
                what,
                format!("the image is for {got}, not the requested platform {asked}"),
            ));
        }
    }

    let mut sources = Vec::new();
    for (i, d) in manifest.layers().iter().enumerate() {
        let mt = d.media_type().to_string();
        if !is_layer_media_type(&mt) {
            return Err(Error::unsupported(
                format!("{what}: layer {i} ({})", d.digest()),
                format!("media type {mt} is not a tar layer imagewise can read (encrypted or foreign layers are not supported)"),
            ));
        }
        let digest = parse_digest(d, what)?;
        let range = blob_range(&store, &digest, d.size(), what)?;
        sources.push(LayerSource::sniffed(
            range,
            Some(digest.clone()),
            Some(mt),
            format!("layer {i} ({}) of {what}", short(&digest)),
        )?);
    }
    let mut info = ImageInfo::new(reference, format, location.to_path_buf());
    info.manifest_digest = Some(manifest_desc.digest().to_string());
    info.config = Some(config);
    info.platform = platform.map(|p| p.to_string());
    info.tags = tags;
    info.signatures = signatures(&store, what, &index, &manifest_desc);
    build_layered(info, sources, opts, progress)
}

/// How many index entries are read looking for referrers.
const MAX_REFERRER_SCAN: usize = 256;
/// Payloads larger than this are not kept.
const MAX_PAYLOAD: u64 = 64 << 10;

/// Signature artifacts in the layout's top-level index that name `image`: a cosign-style tag
/// `sha256-<hex>.sig` (cosign's SIGNATURE_SPEC) and manifests whose `subject` is `image` (OCI
/// image-spec 1.1 referrers). A damaged artifact is reported in its `problems`, never an error
/// for the image.
fn signatures(
    store: &Store,
    what: &str,
    index: &ImageIndex,
    image: &Descriptor,
) -> Vec<crate::info::SignatureInfo> {
    let image_digest = image.digest().to_string();
    let cosign_tag = image_digest.replacen(':', "-", 1) + ".sig";
    let mut out = Vec::new();
    for d in index.manifests().iter().take(MAX_REFERRER_SCAN) {
        if d.digest() == image.digest() || is_index(d) {
            continue;
        }
        let tagged = ref_name(d).is_some_and(|n| n == cosign_tag);
        let mut info = crate::info::SignatureInfo {
            kind: if tagged { "cosign" } else { "referrer" }.into(),
            reference: if tagged {
                cosign_tag.clone()
            } else {
                d.digest().to_string()
            },
            artifact_type: d.artifact_type().as_ref().map(|t| t.to_string()),
            layers: Vec::new(),
            problems: Vec::new(),
            verified: None,
            key: None,
        };
        let manifest = match read_blob(store, d, what, "signature manifest").and_then(|b| {
            ImageManifest::from_reader(&b[..])
                .map_err(|e| Error::corrupt(format!("{what}: {}", d.digest()), e.to_string()))
        }) {
            Ok(m) => m,
            Err(e) if tagged => {
                info.problems.push(e.to_string());
                out.push(info);
                continue;
            }
            Err(_) => continue,
        };
        let subject = manifest.subject().as_ref().map(|s| s.digest().to_string());
        if !tagged && subject.as_deref() != Some(image_digest.as_str()) {
            continue;
        }
        if info.artifact_type.is_none() {
            info.artifact_type = manifest
                .artifact_type()
                .as_ref()
                .map(|t| t.to_string())
                .or_else(|| Some(manifest.config().media_type().to_string()));
        }
        for l in manifest.layers() {
            let signature = l
                .annotations()
                .as_ref()
                .and_then(|a| a.get("dev.cosignproject.cosign/signature"))
                .cloned();
            let payload = if l.size() <= MAX_PAYLOAD {
                match read_blob(store, l, what, "signature payload") {
                    Ok(b) => String::from_utf8(b).ok(),
                    Err(e) => {
                        info.problems.push(e.to_string());
                        None
                    }
                }
            } else {
                None
            };
            let names_digest = payload
                .as_deref()
                .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
                .and_then(|v| {
                    v.pointer("/critical/image/docker-manifest-digest")
                        .and_then(|x| x.as_str())
                        .map(str::to_string)
                });
            info.layers.push(crate::info::SignedPayload {
                media_type: l.media_type().to_string(),
                digest: l.digest().to_string(),
                payload,
                names_digest,
                signature,
            });
        }
        out.push(info);
    }
    out
}

/// Index the layers in order into one merged tree.
pub(crate) fn build_layered(
    mut info: ImageInfo,
    sources: Vec<LayerSource>,
    opts: &OpenOptions,
    progress: &dyn Progress,
) -> Result<ImageTree> {
    let mut builder = TreeBuilder::new(true, opts.limits);
    for (i, src) in sources.iter().enumerate() {
        info.layers.push(layers::index_layer(
            &mut builder,
            i,
            src,
            opts.limits,
            progress,
        )?);
    }
    Ok(builder.finish(info, Backend::Layers(Layers::new(sources, opts.limits))))
}

fn ref_name(d: &Descriptor) -> Option<&str> {
    d.annotations().as_ref()?.get(REF_NAME).map(String::as_str)
}

fn list_tags(index: &ImageIndex) -> String {
    let tags: BTreeSet<&str> = index.manifests().iter().filter_map(ref_name).collect();
    if tags.is_empty() {
        "none".into()
    } else {
        tags.into_iter().collect::<Vec<_>>().join(", ")
    }
}

/// An artifact rather than an image: a descriptor with an `artifactType` (OCI 1.1), or one
/// tagged as cosign tags its signatures, attestations and SBOMs (`sha256-<hex>.sig|att|sbom`).
fn is_artifact(d: &Descriptor) -> bool {
    if d.artifact_type().is_some() {
        return true;
    }
    ref_name(d).is_some_and(|n| {
        n.strip_prefix("sha256-")
            .and_then(|rest| rest.split_once('.'))
            .is_some_and(|(hex, kind)| {
                hex.len() == 64
                    && hex.chars().all(|c| c.is_ascii_hexdigit())
                    && matches!(kind, "sig" | "att" | "sbom")
            })
    })
}

fn is_index(d: &Descriptor) -> bool {
    let mt = d.media_type().to_string();
    mt == "application/vnd.oci.image.index.v1+json"
        || mt == "application/vnd.docker.distribution.manifest.list.v2+json"
}

fn is_layer_media_type(mt: &str) -> bool {
    matches!(
        mt,
        "application/vnd.oci.image.layer.v1.tar"
            | "application/vnd.oci.image.layer.v1.tar+gzip"
            | "application/vnd.oci.image.layer.v1.tar+zstd"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
            | "application/vnd.docker.image.rootfs.diff.tar.gzip"
            | "application/vnd.docker.image.rootfs.diff.tar"
            | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
    )
}

/// Pick one manifest among `candidates`, descending into nested indexes.
fn select(
    store: &Store,
    what: &str,
    candidates: Vec<Descriptor>,
    wanted: &Platform,
    explicit: bool,
    depth: usize,
) -> Result<Descriptor> {
    if depth > MAX_INDEX_DEPTH {
        return Err(Error::unsafe_input(
            what,
            "image indexes nest too deeply (a loop?)",
        ));
    }
    if candidates.is_empty() {
        return Err(Error::not_found(what, "the index lists no images"));
    }
    let described: Vec<(Descriptor, Option<Platform>)> = candidates
        .into_iter()
        .map(|d| {
            let p = d.platform().as_ref().map(Platform::from_oci);
            (d, p)
        })
        .collect();
    let mut pick: Vec<&(Descriptor, Option<Platform>)> = if described.len() == 1 {
        described.iter().collect()
    } else {
        described
            .iter()
            .filter(|(_, p)| p.as_ref().is_none_or(|p| wanted.matches(p)))
            .collect()
    };
    if explicit && described.len() == 1 {
        if let Some(p) = &described[0].1 {
            if !wanted.matches(p) {
                pick.clear();
            }
        }
    }
    // Attestation manifests (buildx "unknown/unknown") never count as images.
    pick.retain(|(_, p)| p.as_ref().is_none_or(|p| p.os != "unknown"));
    if pick.len() > 1 {
        // Several for our platform: a variant that matches exactly wins; else ambiguity.
        let exact: Vec<_> = pick
            .iter()
            .copied()
            .filter(|(_, p)| p.as_ref().is_some_and(|p| p.variant == wanted.variant))
            .collect();
        if exact.len() == 1 {
            pick = exact;
        }
    }
    match pick.as_slice() {
        [] => {
            let offered: Vec<String> = described
                .iter()
                .map(|(d, p)| match (p, ref_name(d)) {
                    (Some(p), _) => p.to_string(),
                    (None, Some(n)) => format!("tag {n}"),
                    (None, None) => d.digest().to_string(),
                })
                .collect();
            Err(Error::not_found(
                what,
                format!(
                    "no image for platform {wanted}; the index offers: {}; choose with --platform",
                    offered.join(", ")
                ),
            ))
        }
        [(d, _)] => {
            if is_index(d) {
                let bytes = read_blob(store, d, what, "index")?;
                let nested = ImageIndex::from_reader(&bytes[..]).map_err(|e| {
                    Error::corrupt(format!("{what}: index {}", d.digest()), e.to_string())
                })?;
                select(
                    store,
                    what,
                    nested.manifests().clone(),
                    wanted,
                    explicit,
                    depth + 1,
                )
            } else {
                Ok(d.clone())
            }
        }
        many => {
            let names: Vec<String> = many
                .iter()
                .map(|(d, p)| {
                    ref_name(d).map_or_else(
                        || {
                            p.as_ref()
                                .map_or_else(|| d.digest().to_string(), ToString::to_string)
                        },
                        |n| n.to_string(),
                    )
                })
                .collect();
            Err(Error::not_found(
                what,
                format!(
                    "the index holds {} images ({}); pick one with PATH:TAG or --platform",
                    many.len(),
                    names.join(", ")
                ),
            ))
        }
    }
}

fn parse_digest(d: &Descriptor, what: &str) -> Result<Digest> {
    Digest::parse(d.digest().as_ref()).map_err(|e| Error::corrupt(what, e.to_string()))
}

fn short(d: &Digest) -> String {
    format!("{}:{}", d.algorithm_name(), &d.hex[..12.min(d.hex.len())])
}

fn blob_range(store: &Store, digest: &Digest, size: u64, what: &str) -> Result<ByteRange> {
    let name = format!("blobs/{}/{}", digest.algorithm_name(), digest.hex);
    let range = store.get(&name)?.ok_or_else(|| {
        Error::corrupt(
            what,
            format!("blob {digest} is referenced but missing ({name})"),
        )
    })?;
    if range.len != size {
        return Err(Error::corrupt(
            what,
            format!(
                "blob {digest} is {} bytes but its descriptor says {size}",
                range.len
            ),
        ));
    }
    Ok(range)
}

/// Read a small JSON blob named by a descriptor and check its digest.
fn read_blob(store: &Store, d: &Descriptor, what: &str, kind: &str) -> Result<Vec<u8>> {
    let digest = parse_digest(d, what)?;
    let range = blob_range(store, &digest, d.size(), what)?;
    read_verified(&range, &digest, &format!("{what}: {kind} {digest}"))
}

pub(crate) fn read_verified(range: &ByteRange, digest: &Digest, what: &str) -> Result<Vec<u8>> {
    if range.len > MAX_DOCUMENT {
        return Err(Error::LimitExceeded {
            what: what.to_string(),
            detail: format!("{} bytes is too large for a JSON document", range.len),
            limit: MAX_DOCUMENT,
            knob: "(none: metadata documents are capped)",
        });
    }
    let mut data = Vec::with_capacity(range.len as usize);
    let mut r = HashingReader::new(range.open()?, Some(digest));
    r.read_to_end(&mut data)
        .map_err(|e| Error::from_stream(what, &range.path, e))?;
    r.verify(Some(digest), what)?;
    Ok(data)
}
