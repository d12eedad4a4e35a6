//! The image config turned into a runtime spec, per the image-spec conversion rules, on top
//! of the defaults `xrun spec` writes (namespaces, masked paths, devices, mounts).

use anyhow::{bail, Context, Result};
use oci_spec::image::ImageConfiguration;
use oci_spec::runtime::Spec;
use serde_json::{json, Value};

use crate::bundle::default_spec::default_spec_json;
use crate::image::fsops::Root;
use crate::image::idmap::IdMap;

pub mod user;

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Choices the image does not make.
#[derive(Default, Clone)]
pub struct ConvertOptions {
    /// `xrun spec --rootless` defaults (user namespace mapping the caller to root).
    pub rootless: bool,
    /// Id maps for the user namespace (empty: none unless rootless).
    pub ids: IdMap,
    /// Replaces the image's Entrypoint (and then its Cmd, as `docker run --entrypoint` does).
    pub entrypoint: Option<Vec<String>>,
    /// Replaces the image's Cmd.
    pub cmd: Option<Vec<String>>,
    pub terminal: bool,
    pub readonly: bool,
    pub hostname: Option<String>,
}

/// Builds the runtime spec; `rootfs` is read for /etc/passwd and /etc/group.
pub fn to_spec(image: &ImageConfiguration, rootfs: &Root, o: &ConvertOptions) -> Result<Spec> {
    let mut s = default_spec_json(o.rootless);
    let empty = oci_spec::image::Config::default();
    let c = image.config().as_ref().unwrap_or(&empty);

    let entrypoint = o
        .entrypoint
        .clone()
        .or_else(|| c.entrypoint().clone())
        .unwrap_or_default();
    let cmd = match (&o.cmd, &o.entrypoint) {
        (Some(cmd), _) => cmd.clone(),
        (None, Some(_)) => vec![],
        (None, None) => c.cmd().clone().unwrap_or_default(),
    };
    let args: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if args.is_empty() {
        bail!("the image has no Entrypoint or Cmd: give a command after --");
    }
    let mut env = c.env().clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, DEFAULT_PATH.to_string());
    }
    if o.terminal && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".to_string());
    }
    let cwd = match c.working_dir().as_deref() {
        None | Some("") => "/".to_string(),
        Some(d) if d.starts_with('/') => d.to_string(),
        Some(d) => format!("/{d}"),
    };
    let user = user::resolve(c.user().as_deref().unwrap_or(""), rootfs)?;

    let p = &mut s["process"];
    p["terminal"] = json!(o.terminal);
    p["args"] = json!(args);
    p["env"] = json!(env);
    p["cwd"] = json!(cwd);
    p["user"] = json!({"uid": user.uid, "gid": user.gid});
    if !user.additional_gids.is_empty() {
        p["user"]["additionalGids"] = json!(user.additional_gids);
    }
    s["root"]["readonly"] = json!(o.readonly);
    if let Some(h) = &o.hostname {
        s["hostname"] = json!(h);
    }
    s["annotations"] = json!(annotations(image, c));
    if !o.ids.is_identity() {
        let linux = &mut s["linux"];
        let ns = linux["namespaces"].as_array_mut().context("default spec")?;
        if !ns.iter().any(|n| n["type"] == "user") {
            ns.push(json!({"type": "user"}));
        }
        let map = |r: &[crate::image::idmap::IdRange]| -> Value {
            r.iter()
                .map(|r| json!({"containerID": r.container, "hostID": r.host, "size": r.size}))
                .collect()
        };
        if !o.ids.uids.is_empty() {
            linux["uidMappings"] = map(&o.ids.uids);
        }
        if !o.ids.gids.is_empty() {
            linux["gidMappings"] = map(&o.ids.gids);
        }
    }
    let spec: Spec = serde_json::from_value(s).context("converted config")?;
    crate::bundle::validate(&spec).context("converted config")?;
    Ok(spec)
}

/// Labels, then the conversion's `org.opencontainers.image.*` keys.
fn annotations(
    image: &ImageConfiguration,
    c: &oci_spec::image::Config,
) -> std::collections::BTreeMap<String, String> {
    let mut a: std::collections::BTreeMap<String, String> =
        c.labels().clone().unwrap_or_default().into_iter().collect();
    let k = |s: &str| format!("org.opencontainers.image.{s}");
    a.insert(k("os"), image.os().to_string());
    a.insert(k("architecture"), image.architecture().to_string());
    if let Some(v) = image.author() {
        a.insert(k("author"), v.clone());
    }
    if let Some(v) = image.created() {
        a.insert(k("created"), v.clone());
    }
    if let Some(v) = c.stop_signal() {
        a.insert(k("stopSignal"), v.clone());
    }
    let sorted = |v: &Option<Vec<String>>| {
        let mut v = v.clone().unwrap_or_default();
        v.sort();
        v.join(",")
    };
    if c.exposed_ports().as_ref().is_some_and(|v| !v.is_empty()) {
        a.insert(k("exposedPorts"), sorted(c.exposed_ports()));
    }
    if c.volumes().as_ref().is_some_and(|v| !v.is_empty()) {
        // Not a spec key: the image's VOLUME list, for whoever mounts them.
        a.insert("io.xrun.image.volumes".into(), sorted(c.volumes()));
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(cfg: Value, o: &ConvertOptions) -> Result<Spec> {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("etc")).unwrap();
        std::fs::write(d.path().join("etc/passwd"), "web:x:33:33::/:/bin/sh\n").unwrap();
        let img: ImageConfiguration = serde_json::from_value(cfg).unwrap();
        to_spec(&img, &Root::open(d.path()).unwrap(), o)
    }

    fn base() -> Value {
        json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []},
               "config": {"Entrypoint": ["/bin/app"], "Cmd": ["--serve"], "Env": ["A=1"],
                          "WorkingDir": "/srv", "User": "web", "StopSignal": "SIGQUIT",
                          "Labels": {"l": "v"}, "ExposedPorts": {"80/tcp": {}, "53/udp": {}},
                          "Volumes": {"/data": {}}}})
    }

    #[test]
    fn image_config_becomes_the_process_and_annotations() {
        let s = serde_json::to_value(convert(base(), &ConvertOptions::default()).unwrap()).unwrap();
        assert_eq!(s["process"]["args"], json!(["/bin/app", "--serve"]));
        assert_eq!(s["process"]["env"], json!([DEFAULT_PATH, "A=1"]));
        assert_eq!(s["process"]["cwd"], "/srv");
        assert_eq!(s["process"]["user"], json!({"uid": 33, "gid": 33}));
        assert_eq!(s["process"]["terminal"], false);
        let a = &s["annotations"];
        assert_eq!(a["l"], "v");
        assert_eq!(a["org.opencontainers.image.stopSignal"], "SIGQUIT");
        assert_eq!(a["org.opencontainers.image.exposedPorts"], "53/udp,80/tcp");
        assert_eq!(a["io.xrun.image.volumes"], "/data");
        // The runtime defaults are kept.
        assert!(s["linux"]["maskedPaths"].as_array().unwrap().len() > 5);
        assert_eq!(s["mounts"].as_array().unwrap().len(), 7);
    }

    #[test]
    fn overrides_replace_entrypoint_and_cmd() {
        let o = ConvertOptions {
            cmd: Some(vec!["-v".into()]),
            ..Default::default()
        };
        let s = convert(base(), &o).unwrap();
        assert_eq!(
            s.process().as_ref().unwrap().args().as_ref().unwrap(),
            &["/bin/app", "-v"]
        );
        let o = ConvertOptions {
            entrypoint: Some(vec!["/bin/sh".into()]),
            ..Default::default()
        };
        let s = convert(base(), &o).unwrap();
        assert_eq!(
            s.process().as_ref().unwrap().args().as_ref().unwrap(),
            &["/bin/sh"]
        );
        let mut b = base();
        b["config"] = json!({});
        let e = convert(b, &ConvertOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("no Entrypoint or Cmd"), "{e}");
    }
}
