//! The state root (`--root`, default `/run/xrun`): one directory per container.
//!
//! `mkdir` of the container directory is the atomic claim on an id, so two racing creates of
//! the same id cannot both succeed. Verbs that change a container hold an exclusive `flock`
//! on its directory for their whole run.

use std::fs::{self, DirBuilder, File};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use std::os::fd::AsRawFd;

use super::{id, State};

const STATE_FILE: &str = "state.json";
const EXEC_FIFO: &str = "exec.fifo";

pub struct Root {
    path: PathBuf,
}

/// A container's state directory; with an exclusive lock while `lock` is set.
pub struct ContainerDir {
    pub id: String,
    pub path: PathBuf,
    lock: Option<File>,
}

impl Root {
    pub fn new(path: &Path) -> Root {
        Root {
            path: path.to_path_buf(),
        }
    }

    /// Claims `id`: creates its directory, failing if the id is taken.
    pub fn create(&self, id: &str) -> Result<ContainerDir> {
        id::validate(id)?;
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.path)
            .with_context(|| format!("cannot create state root {}", self.path.display()))?;
        let path = self.path.join(id);
        match DirBuilder::new().mode(0o711).create(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                bail!("container with id {id:?} already exists")
            }
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
        }
        let lock = lock_dir(&path)?;
        Ok(ContainerDir {
            id: id.to_string(),
            path,
            lock: Some(lock),
        })
    }

    /// Opens and locks an existing container's directory, for verbs that change it.
    pub fn open(&self, id: &str) -> Result<ContainerDir> {
        let mut dir = self.open_unlocked(id)?;
        dir.lock = match lock_dir(&dir.path) {
            Ok(l) => Some(l),
            Err(e) if is_not_found(&e) => bail!("container {id:?} does not exist"),
            Err(e) => return Err(e),
        };
        // It may have been deleted while we waited for the lock.
        if !dir.path.exists() {
            bail!("container {id:?} does not exist");
        }
        Ok(dir)
    }

    /// Opens a container's directory without locking it, for verbs that only read (the
    /// state file is replaced atomically, so readers never see a torn one).
    pub fn open_unlocked(&self, id: &str) -> Result<ContainerDir> {
        id::validate(id)?;
        let path = self.path.join(id);
        if !path.is_dir() {
            bail!("container {id:?} does not exist");
        }
        Ok(ContainerDir {
            id: id.to_string(),
            path,
            lock: None,
        })
    }

    pub fn exists(&self, id: &str) -> bool {
        id::validate(id).is_ok() && self.path.join(id).is_dir()
    }

    /// Ids of all containers, sorted.
    pub fn list(&self) -> Result<Vec<String>> {
        let entries = match fs::read_dir(&self.path) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).context(format!("reading {}", self.path.display())),
        };
        let mut ids: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|id| id::validate(id).is_ok())
            .collect();
        ids.sort();
        Ok(ids)
    }
}

fn lock_dir(path: &Path) -> Result<File> {
    let f = File::options()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    // SAFETY: flock on a descriptor we own; retried when a signal interrupts it.
    while unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
        let e = std::io::Error::last_os_error();
        if e.kind() != ErrorKind::Interrupted {
            return Err(e).with_context(|| format!("cannot lock {}", path.display()));
        }
    }
    Ok(f)
}

fn is_not_found(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == ErrorKind::NotFound)
    })
}

impl ContainerDir {
    /// Gives up the lock early, e.g. while a foreground `run` waits for its container.
    pub fn unlock(&mut self) {
        self.lock = None;
    }

    pub fn state_file(&self) -> PathBuf {
        self.path.join(STATE_FILE)
    }

    /// The fifo the init blocks on until `start`; it exists exactly while the container is
    /// created and not yet started.
    pub fn exec_fifo(&self) -> PathBuf {
        self.path.join(EXEC_FIFO)
    }

    pub fn load_state(&self) -> Result<State> {
        let f = match File::open(self.state_file()) {
            Ok(f) => f,
            // The directory exists but create has not written the state yet.
            Err(e) if e.kind() == ErrorKind::NotFound => {
                bail!("container {:?} is still being created", self.id)
            }
            Err(e) => return Err(e).context("reading state.json"),
        };
        crate::bundle::parse_json("state.json", &crate::bundle::slurp(f)?)
    }

    /// Writes the state atomically: a reader sees the old or the new file, never a torn one.
    pub fn save_state(&self, state: &State) -> Result<()> {
        write_atomic(&self.state_file(), &serde_json::to_vec(state)?, 0o600)
    }

    /// Removes the directory and everything in it.
    pub fn remove(self) -> Result<()> {
        match fs::remove_dir_all(&self.path) {
            Err(e) if e.kind() != ErrorKind::NotFound => {
                Err(e).with_context(|| format!("removing {}", self.path.display()))
            }
            _ => Ok(()),
        }
    }
}

/// Writes `data` to a temporary file next to `path`, then renames it into place.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.{}", std::process::id()));
    let res = (|| {
        let mut f = File::options()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(libc::O_CLOEXEC)
            .open(&tmp)?;
        // No fsync: the state lives on tmpfs (/run) and does not outlive a reboot anyway;
        // the rename alone makes the update atomic for readers.
        f.write_all(data)?;
        fs::rename(&tmp, path)
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res.with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_ids_are_rejected_and_open_needs_existing() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Root::new(tmp.path());
        let d = root.create("c1").unwrap();
        drop(d);
        let e = root.create("c1").err().unwrap().to_string();
        assert_eq!(e, "container with id \"c1\" already exists");
        let e = root.open("nope").err().unwrap().to_string();
        assert_eq!(e, "container \"nope\" does not exist");
        assert_eq!(root.list().unwrap(), vec!["c1".to_string()]);
        assert!(root.create("../x").is_err());
    }

    #[test]
    fn atomic_write_replaces_content() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("f");
        write_atomic(&p, b"one", 0o600).unwrap();
        write_atomic(&p, b"two", 0o600).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);
    }
}
