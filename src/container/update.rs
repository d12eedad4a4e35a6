//! `update`: change a live container's resources. The new values are written to its
//! cgroups, then merged into the saved config so that later updates and `events` see them.

use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxResources;
use serde_json::Value;

use super::Root;
use super::Runtime;
use crate::cgroups;

pub fn update(rt: &Runtime, id: &str, r: &LinuxResources) -> Result<()> {
    let dir = Root::new(&rt.root).open(id)?;
    let mut state = dir.load_state()?;
    if !state.init_alive() {
        bail!("container not running: cannot update {id}");
    }
    let cg = cgroups::Manager::load(state.cgroup.as_ref())?;
    cg.update(r, "update: linux.resources")?;
    // Merge what was set into the saved config (JSON-wise: only fields that were given).
    let mut spec = serde_json::to_value(&state.config)?;
    let new = serde_json::to_value(r)?;
    let slot = spec
        .as_object_mut()
        .context("config is not an object")?
        .entry("linux")
        .or_insert_with(|| Value::Object(Default::default()));
    let res = slot
        .as_object_mut()
        .context("linux is not an object")?
        .entry("resources")
        .or_insert_with(|| Value::Object(Default::default()));
    merge(res, &new);
    state.config = serde_json::from_value(spec).context("merge the updated resources")?;
    dir.save_state(&state)
}

/// Overlays the non-null fields of `new` onto `into`, recursing into objects.
fn merge(into: &mut Value, new: &Value) {
    match (into, new) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                if v.is_null() {
                    continue;
                }
                merge(a.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (slot, v) => *slot = v.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn merge_keeps_unset_fields() {
        let mut a = json!({"memory": {"limit": 1, "swap": 2}, "pids": {"limit": 3}});
        super::merge(
            &mut a,
            &json!({"memory": {"limit": 5, "swap": null}, "cpu": {"shares": 9}}),
        );
        assert_eq!(
            a,
            json!({"memory": {"limit": 5, "swap": 2}, "pids": {"limit": 3}, "cpu": {"shares": 9}})
        );
    }
}
