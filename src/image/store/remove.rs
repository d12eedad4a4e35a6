//! `xrun image rm`: untags, deletes images no tag names any more, and frees the layers that
//! no image and no store bundle uses.

use anyhow::{bail, Result};

use super::{normalize_tag, Store};

pub fn remove(store: &Store, names: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for name in names {
        let id = store.resolve(name)?;
        let mut tags = store.tags()?;
        let by_tag = normalize_tag(name).ok().filter(|t| tags.contains_key(t));
        let untag: Vec<String> = match &by_tag {
            Some(t) => vec![t.clone()],
            None => store.tags_of(&id)?, // by id: every tag goes with it
        };
        let remaining = tags.values().filter(|v| **v == id.to_string()).count() - untag.len();
        if remaining == 0 {
            let users: Vec<String> = store
                .containers()?
                .into_iter()
                .filter(|(_, c)| c.image == id.to_string())
                .map(|(cid, c)| format!("{cid} ({})", c.bundle.display()))
                .collect();
            if !users.is_empty() {
                bail!(
                    "image {name}: in use by store bundles {}: unbundle them first",
                    users.join(", ")
                );
            }
        }
        for t in &untag {
            tags.remove(t);
            out.push(format!("Untagged: {t}"));
        }
        store.write_tags(&tags)?;
        if remaining == 0 {
            std::fs::remove_dir_all(store.root.join("images").join(id.hex()))?;
            out.push(format!("Deleted: {id}"));
        }
    }
    let used = store.used_layers()?;
    for e in std::fs::read_dir(store.root.join("layers"))? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if !used.contains(&name) {
            std::fs::remove_dir_all(e.path())?;
            out.push(format!("Deleted layer: sha256:{name}"));
        }
    }
    Ok(out)
}
