//! `docker-archive:` — the output of `docker save`: `manifest.json` lists each image's config
//! and its layers in order (legacy `<id>/layer.tar` or, since Docker 25, `blobs/sha256/<hex>`),
//! and several images may share one archive, picked by `repo:tag`.

use std::path::Path;

use serde::Deserialize;

use crate::blob::Digest;
use crate::error::{Error, Result};
use crate::info::{Format, ImageInfo};
use crate::layers::LayerSource;
use crate::oci::{build_layered, read_verified, MAX_DOCUMENT};
use crate::platform::Platform;
use crate::store::Store;
use crate::tree::ImageTree;
use crate::OpenOptions;
use imagewise_types::Progress;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ManifestItem {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

pub(crate) fn open(
    reference: &str,
    location: &Path,
    tag: Option<&str>,
    opts: &OpenOptions,
    progress: &dyn Progress,
) -> Result<ImageTree> {
    let what = reference;
    let store = Store::archive(location, what)?;
    let manifest = store
        .require("manifest.json", what)?
        .read_all(what, MAX_DOCUMENT)?;
    let items: Vec<ManifestItem> = serde_json::from_slice(&manifest)
        .map_err(|e| Error::corrupt(format!("{what}: manifest.json"), e.to_string()))?;
    let all_tags = || {
        let t: Vec<&str> = items
            .iter()
            .flat_map(|i| i.repo_tags.iter().flatten())
            .map(String::as_str)
            .collect();
        if t.is_empty() {
            "none".to_string()
        } else {
            t.join(", ")
        }
    };
    let item = match tag {
        Some(tag) => items
            .iter()
            .find(|i| i.repo_tags.iter().flatten().any(|t| same_tag(t, tag)))
            .ok_or_else(|| Error::not_found(what, format!("no image tagged {tag:?}; tags in the archive: {}", all_tags())))?,
        None => match items.as_slice() {
            [one] => one,
            [] => return Err(Error::corrupt(what, "manifest.json lists no images")),
            _ => {
                return Err(Error::not_found(
                    what,
                    format!("the archive holds {} images; pick one with docker-archive:PATH:REPO:TAG (tags: {})", items.len(), all_tags()),
                ))
            }
        },
    };

    let config_range = store.require(&item.config, what)?;
    let config_what = format!("{what}: config {}", item.config);
    let config_bytes = match digest_from_name(&item.config) {
        Some(d) => read_verified(&config_range, &d, &config_what)?,
        None => config_range.read_all(&config_what, MAX_DOCUMENT)?,
    };
    let config: serde_json::Value = serde_json::from_slice(&config_bytes)
        .map_err(|e| Error::corrupt(&config_what, e.to_string()))?;
    let diff_ids: Vec<String> = config
        .pointer("/rootfs/diff_ids")
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    // Layers named by digest need no diff_ids; legacy `<id>/layer.tar` names do.
    if !diff_ids.is_empty() && diff_ids.len() != item.layers.len() {
        return Err(Error::corrupt(
            &config_what,
            format!(
                "{} diff_ids for {} layers",
                diff_ids.len(),
                item.layers.len()
            ),
        ));
    }
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
    for (i, name) in item.layers.iter().enumerate() {
        let range = store.require(name, what)?;
        let layer_what = format!("layer {i} ({name}) of {what}");
        let mut src = LayerSource::sniffed(range, None, None, layer_what)?;
        // The blob name is its digest; an uncompressed layer's digest is also its diff_id.
        src.digest = match digest_from_name(name) {
            Some(d) => Some(d),
            None if src.compression == crate::Compression::None => {
                let id = diff_ids.get(i).ok_or_else(|| {
                    Error::corrupt(
                        &config_what,
                        format!("no diff_id for layer {i} ({name}), so it cannot be verified"),
                    )
                })?;
                Some(Digest::parse(id).map_err(|e| Error::corrupt(&config_what, e.to_string()))?)
            }
            None => None,
        };
        sources.push(src);
    }
    let mut info = ImageInfo::new(reference, Format::DockerArchive, location.to_path_buf());
    info.platform = platform.map(|p| p.to_string());
    info.config = Some(config);
    info.tags = item.repo_tags.clone().unwrap_or_default();
    build_layered(info, sources, opts, progress)
}

/// `debian:12` matches `debian:12`, `docker.io/library/debian:12` and `library/debian:12`.
fn same_tag(stored: &str, asked: &str) -> bool {
    let norm = |s: &str| {
        s.trim_start_matches("docker.io/")
            .trim_start_matches("library/")
            .to_string()
    };
    stored == asked || norm(stored) == norm(asked)
}

/// `blobs/sha256/<hex>` or `<hex>.json` names carry the digest of their content.
fn digest_from_name(name: &str) -> Option<Digest> {
    let n = name.trim_start_matches("./");
    if let Some(rest) = n.strip_prefix("blobs/") {
        let (alg, hex) = rest.split_once('/')?;
        return Digest::parse(&format!("{alg}:{hex}")).ok();
    }
    let hex = n.strip_suffix(".json")?;
    Digest::parse(&format!("sha256:{hex}")).ok()
}
