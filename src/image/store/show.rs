//! `xrun image images`, `inspect` and `history`: what the store holds.

use anyhow::Result;
use serde_json::{json, Value};

use super::Store;

fn mb(n: u64) -> String {
    format!("{:.1}MB", n as f64 / 1e6)
}

fn image_size(store: &Store, img: &super::StoredImage) -> u64 {
    img.diff_ids
        .iter()
        .filter_map(|d| store.layer_meta(d).ok())
        .map(|m| m.size)
        .sum()
}

pub fn images(store: &Store) -> Result<String> {
    let mut rows = vec![[
        "REPOSITORY:TAG".to_string(),
        "IMAGE ID".into(),
        "CREATED".into(),
        "LAYERS".into(),
        "SIZE".into(),
    ]];
    for id in store.image_ids()? {
        let img = store.image(&id)?;
        let mut tags = store.tags_of(&id)?;
        if tags.is_empty() {
            tags.push("<none>".into());
        }
        for t in tags {
            rows.push([
                t,
                id.short().to_string(),
                img.config.created().clone().unwrap_or_default(),
                img.diff_ids.len().to_string(),
                mb(image_size(store, &img)),
            ]);
        }
    }
    Ok(table(&rows))
}

fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut w = [0usize; N];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.len());
        }
    }
    let mut s = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = w[i]))
            .collect();
        s.push_str(line.join("   ").trim_end());
        s.push('\n');
    }
    s
}

pub fn inspect(store: &Store, name: &str) -> Result<String> {
    let id = store.resolve(name)?;
    let img = store.image(&id)?;
    let config: Value = serde_json::from_slice(&img.raw)?;
    let layers: Vec<Value> = img
        .diff_ids
        .iter()
        .map(|d| {
            json!({"DiffID": d.to_string(), "Size": store.layer_meta(d).map(|m| m.size).unwrap_or(0),
                   "Path": store.layer_dir(d).join("diff")})
        })
        .collect();
    let v = json!({
        "Id": id.to_string(),
        "RepoTags": store.tags_of(&id)?,
        "Created": config.get("created"),
        "Architecture": config.get("architecture"),
        "Os": config.get("os"),
        "Size": image_size(store, &img),
        "Config": config.get("config"),
        "RootFS": config.get("rootfs"),
        "Layers": layers,
    });
    Ok(serde_json::to_string_pretty(&v)? + "\n")
}

pub fn history(store: &Store, name: &str) -> Result<String> {
    let id = store.resolve(name)?;
    let img = store.image(&id)?;
    let mut rows = vec![[
        "CREATED".to_string(),
        "CREATED BY".into(),
        "SIZE".into(),
        "COMMENT".into(),
    ]];
    let mut layers = img.diff_ids.iter();
    let hist = img.config.history().clone().unwrap_or_default();
    let mut out = Vec::new();
    for h in &hist {
        let size = if h.empty_layer() == Some(true) {
            0
        } else {
            layers
                .next()
                .and_then(|d| store.layer_meta(d).ok())
                .map_or(0, |m| m.size)
        };
        let mut by = h.created_by().clone().unwrap_or_default();
        if by.len() > 60 {
            by = format!("{}...", by.chars().take(57).collect::<String>());
        }
        out.push([
            h.created().clone().unwrap_or_default(),
            by,
            mb(size),
            h.comment().clone().unwrap_or_default(),
        ]);
    }
    out.reverse(); // newest first, as docker history shows it
    rows.extend(out);
    Ok(table(&rows))
}
