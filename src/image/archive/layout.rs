//! Finding the images in an archive: docker save's `manifest.json` (legacy layout, and the
//! OCI layout Docker ≥ 25 writes beside it: manifest.json wins), or an OCI layout's
//! `index.json` (podman/skopeo oci-archive, `oci:` directories). Every blob with a known
//! digest is checked against it.

use std::collections::HashMap;

use anyhow::{bail, Context, Result};
use oci_spec::image::ImageConfiguration;
use serde::Deserialize;

use super::Archive;
use crate::bundle::parse_json;
use crate::image::digest::Digest;

/// An image as the archive lists it, before anything was read.
#[derive(Clone, Debug)]
pub struct ImageRef {
    pub tags: Vec<String>,
    pub config_member: String,
    /// The config's digest when the archive states it (file name or descriptor).
    pub config_digest: Option<Digest>,
    pub layers: Vec<LayerRef>,
}

#[derive(Clone, Debug)]
pub struct LayerRef {
    pub member: String,
    /// Digest of the blob as stored (compressed), when the archive states it.
    pub digest: Option<Digest>,
}

/// An image with its config read and verified.
pub struct Image {
    pub tags: Vec<String>,
    pub config_raw: Vec<u8>,
    pub config_digest: Digest,
    pub config: ImageConfiguration,
    pub diff_ids: Vec<Digest>,
    pub layers: Vec<LayerRef>,
}

impl Image {
    /// The name to show: the first tag, else the short config digest.
    pub fn display_name(&self) -> String {
        self.tags
            .first()
            .cloned()
            .unwrap_or_else(|| self.config_digest.short().to_string())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LegacyEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    #[serde(default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    annotations: Option<HashMap<String, String>>,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Deserialize)]
struct Platform {
    architecture: String,
    os: String,
}

#[derive(Deserialize)]
struct Index {
    manifests: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct Manifest {
    config: Descriptor,
    layers: Vec<Descriptor>,
}

/// Every image the archive holds.
pub fn images(ar: &Archive) -> Result<Vec<ImageRef>> {
    if ar.contains("manifest.json") {
        let raw = ar.read_member("manifest.json")?;
        let entries: Vec<LegacyEntry> =
            parse_json(&format!("{}: manifest.json", ar.name), &raw[..])?;
        return Ok(entries
            .into_iter()
            .map(|e| ImageRef {
                tags: e.repo_tags.unwrap_or_default(),
                config_digest: digest_of_member(&e.config),
                config_member: e.config,
                layers: e
                    .layers
                    .into_iter()
                    .map(|m| LayerRef {
                        digest: digest_of_member(&m),
                        member: m,
                    })
                    .collect(),
            })
            .collect());
    }
    if ar.contains("index.json") {
        let raw = ar.read_member("index.json")?;
        let index: Index = parse_json(&format!("{}: index.json", ar.name), &raw[..])?;
        let mut out = Vec::new();
        for d in index.manifests {
            oci_manifest(ar, &d, tags_of(&d), &mut out, 0)?;
        }
        return Ok(out);
    }
    bail!(
        "{}: neither manifest.json nor index.json: not a docker-save or OCI archive",
        ar.name
    )
}

fn tags_of(d: &Descriptor) -> Vec<String> {
    let a = d.annotations.as_ref();
    let name = a.and_then(|a| {
        a.get("io.containerd.image.name")
            .or_else(|| a.get("org.opencontainers.image.ref.name"))
    });
    name.into_iter().cloned().collect()
}

/// Follows a descriptor from index.json down to image manifests (through nested indexes,
/// keeping the manifests for this host's platform).
fn oci_manifest(
    ar: &Archive,
    d: &Descriptor,
    tags: Vec<String>,
    out: &mut Vec<ImageRef>,
    depth: u32,
) -> Result<()> {
    if depth > 4 {
        bail!("{}: image indexes nested too deep", ar.name);
    }
    let digest = Digest::parse(&d.digest).with_context(|| format!("{}: index.json", ar.name))?;
    let member = blob_member(&digest);
    let raw = ar.read_member(&member)?;
    verify(ar, &member, &raw, &digest)?;
    let what = format!("{}: {member}", ar.name);
    if d.media_type.contains("index") || d.media_type.contains("manifest.list") {
        let index: Index = parse_json(&what, &raw[..])?;
        for m in index.manifests.iter().filter(|m| platform_fits(m)) {
            let mut t = tags_of(m);
            if t.is_empty() {
                t = tags.clone();
            }
            oci_manifest(ar, m, t, out, depth + 1)?;
        }
        return Ok(());
    }
    let m: Manifest = parse_json(&what, &raw[..])?;
    let config_digest = Digest::parse(&m.config.digest).with_context(|| what.clone())?;
    let mut layers = Vec::new();
    for l in &m.layers {
        if l.media_type.contains("encrypted") {
            bail!(
                "{what}: layer {}: encrypted layers are not supported",
                l.digest
            );
        }
        let digest = Digest::parse(&l.digest).with_context(|| what.clone())?;
        layers.push(LayerRef {
            member: blob_member(&digest),
            digest: Some(digest),
        });
    }
    out.push(ImageRef {
        tags,
        config_member: blob_member(&config_digest),
        config_digest: Some(config_digest),
        layers,
    });
    Ok(())
}

fn platform_fits(d: &Descriptor) -> bool {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    d.platform
        .as_ref()
        .is_none_or(|p| p.os == "linux" && p.architecture == arch)
}

pub fn blob_member(d: &Digest) -> String {
    format!("blobs/sha256/{}", d.hex())
}

/// The digest a member's name states: `blobs/sha256/<hex>` or docker save's `<hex>.json`.
fn digest_of_member(m: &str) -> Option<Digest> {
    let m = m.trim_start_matches("./");
    if let Some(hex) = m.strip_prefix("blobs/sha256/") {
        return Digest::from_hex(hex);
    }
    m.strip_suffix(".json")
        .filter(|h| !h.contains('/'))
        .and_then(Digest::from_hex)
}

fn verify(ar: &Archive, member: &str, data: &[u8], want: &Digest) -> Result<()> {
    let got = Digest::of_bytes(data);
    if &got != want {
        bail!(
            "{}: {member}: digest mismatch (expected {want}, got {got})",
            ar.name
        );
    }
    Ok(())
}

/// Short form of a reference for matching: `docker.io/library/x:latest` → `x:latest`.
fn normalize_ref(r: &str) -> String {
    let mut s = r;
    for p in [
        "docker.io/library/",
        "index.docker.io/library/",
        "docker.io/",
        "localhost/",
    ] {
        if let Some(rest) = s.strip_prefix(p) {
            s = rest;
            break;
        }
    }
    let last = s.rsplit('/').next().unwrap_or(s);
    if last.contains(':') || s.contains('@') {
        s.to_string()
    } else {
        format!("{s}:latest")
    }
}

fn matches(img: &ImageRef, want: &str) -> bool {
    let w = normalize_ref(want);
    let by_tag = img.tags.iter().any(|t| {
        t == want
            || normalize_ref(t) == w
            // An OCI ref.name may be a bare tag.
            || (!t.contains(':') && !t.contains('/') && w.rsplit_once(':').is_some_and(|(_, tag)| tag == t))
    });
    let hex = want.strip_prefix("sha256:").unwrap_or(want);
    let by_digest = hex.len() >= 4
        && img
            .config_digest
            .as_ref()
            .is_some_and(|d| d.hex().starts_with(hex));
    by_tag || by_digest
}

fn describe(img: &ImageRef) -> String {
    match (img.tags.first(), &img.config_digest) {
        (Some(t), _) => t.clone(),
        (None, Some(d)) => format!("{} (untagged)", d.short()),
        (None, None) => format!("{} (untagged)", img.config_member),
    }
}

/// Picks the image named `want` (`NAME[:TAG]` or a config digest prefix); without a name,
/// the archive must hold exactly one image.
pub fn select<'a>(
    ar: &Archive,
    images: &'a [ImageRef],
    want: Option<&str>,
) -> Result<&'a ImageRef> {
    let list = || images.iter().map(describe).collect::<Vec<_>>().join(", ");
    let found: Vec<&ImageRef> = match want {
        None => images.iter().collect(),
        Some(w) => images.iter().filter(|i| matches(i, w)).collect(),
    };
    match (found.as_slice(), want) {
        ([], _) if images.is_empty() => bail!("{}: the archive holds no image", ar.name),
        ([one], _) => Ok(one),
        ([], Some(w)) => bail!("{}: no image {w}; the archive holds: {}", ar.name, list()),
        (_, None) => bail!(
            "{}: the archive holds {} images, choose one with --image: {}",
            ar.name,
            images.len(),
            list()
        ),
        (_, Some(w)) => bail!(
            "{}: {w} is ambiguous; the archive holds: {}",
            ar.name,
            list()
        ),
    }
}

/// Reads and verifies the config of `r`.
pub fn load(ar: &Archive, r: &ImageRef) -> Result<Image> {
    let raw = ar.read_member(&r.config_member)?;
    let config_digest = match &r.config_digest {
        Some(want) => {
            verify(ar, &r.config_member, &raw, want)?;
            want.clone()
        }
        None => Digest::of_bytes(&raw),
    };
    let what = format!("{}: config {}", ar.name, config_digest.short());
    let config: ImageConfiguration = parse_json(&what, &raw[..])?;
    let diff_ids = config
        .rootfs()
        .diff_ids()
        .iter()
        .enumerate()
        .map(|(i, d)| Digest::parse(d).with_context(|| format!("{what}: rootfs.diff_ids[{i}]")))
        .collect::<Result<Vec<_>>>()?;
    if diff_ids.len() != r.layers.len() {
        bail!(
            "{what}: rootfs.diff_ids lists {} layers but the manifest has {}",
            diff_ids.len(),
            r.layers.len()
        );
    }
    Ok(Image {
        tags: r.tags.clone(),
        config_raw: raw,
        config_digest,
        config,
        diff_ids,
        layers: r.layers.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(tags: &[&str]) -> ImageRef {
        ImageRef {
            tags: tags.iter().map(|s| s.to_string()).collect(),
            config_member: "c".into(),
            config_digest: Some(Digest::of_bytes(tags.join(",").as_bytes())),
            layers: vec![],
        }
    }

    #[test]
    fn references_match_in_their_usual_spellings() {
        let i = img(&["docker.io/library/busybox:latest"]);
        assert!(matches(&i, "busybox"));
        assert!(matches(&i, "busybox:latest"));
        assert!(!matches(&i, "busybox:1"));
        assert!(matches(&img(&["localhost/app:v1"]), "app:v1"));
        assert!(matches(&img(&["v1"]), "app:v1"));
        assert!(matches(&i, &i.config_digest.clone().unwrap().hex()[..8]));
    }
}
