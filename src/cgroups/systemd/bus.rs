//! The systemd manager over D-Bus (zbus, the client cgroups-rs is built on): units are
//! started and stopped through jobs, and a job is done only when systemd says so in its
//! JobRemoved signal. cgroups-rs's client returns as soon as the job is queued, so this
//! talks to the manager itself.

use std::future::Future;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use futures_lite::StreamExt;
use zbus::proxy::SignalStream;
use zbus::zvariant::{OwnedObjectPath, Value};
use zbus::{Connection, Proxy};

/// How long a job of ours may take before we give up on it (as runc).
const JOB_TIMEOUT: Duration = Duration::from_secs(30);
/// A stopped transient unit is unloaded on systemd's next garbage collection.
const UNLOAD_TIMEOUT: Duration = Duration::from_secs(5);
const NO_SUCH_UNIT: &str = "org.freedesktop.systemd1.NoSuchUnit";

pub type Property = (&'static str, Value<'static>);

/// Runs one conversation with systemd to its end, on this thread.
///
/// zbus and async-io start helper threads, which outlive the conversation. They are made
/// with every signal blocked (a thread inherits its maker's mask), so that no signal meant
/// for us lands in one of them: `run` waits for SIGCHLD on a signalfd, which only sees
/// signals that no thread took.
pub fn block_on<T>(f: impl Future<Output = Result<T>>) -> Result<T> {
    use nix::sys::signal::{SigSet, SigmaskHow};
    let mut old = SigSet::empty();
    nix::sys::signal::pthread_sigmask(
        SigmaskHow::SIG_SETMASK,
        Some(&SigSet::all()),
        Some(&mut old),
    )?;
    let r = async_io::block_on(f);
    nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None)?;
    r
}

pub struct Manager {
    proxy: Proxy<'static>,
}

impl Manager {
    pub async fn connect() -> Result<Manager> {
        let conn = Connection::system()
            .await
            .context("systemd: cannot connect to the system bus (is dbus running?)")?;
        // No property cache: it would fetch all of the manager's properties up front.
        let proxy: Proxy<'static> = zbus::proxy::Builder::new(&conn)
            .destination("org.freedesktop.systemd1")?
            .path("/org/freedesktop/systemd1")?
            .interface("org.freedesktop.systemd1.Manager")?
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await?;
        // systemd sends its job and unit signals only to clients that subscribed.
        proxy
            .call_method("Subscribe", &())
            .await
            .context("systemd: Subscribe")?;
        Ok(Manager { proxy })
    }

    /// StartTransientUnit, returning once the unit runs (its job finished as "done").
    pub async fn start_transient(&self, unit: &str, props: &[Property]) -> Result<()> {
        // Listening before the call, so that a job that finishes at once is not missed.
        let mut jobs = self.proxy.receive_signal("JobRemoved").await?;
        let aux: &[(&str, &[Property])] = &[];
        let job: OwnedObjectPath = self
            .proxy
            .call("StartTransientUnit", &(unit, "replace", props, aux))
            .await
            .map_err(|e| anyhow!("systemd: start {unit}: {}", describe(&e)))?;
        match wait_job(&mut jobs, &job).await?.as_str() {
            "done" => Ok(()),
            r => bail!(
                "systemd: start {unit}: the job ended as {r:?} (see `systemctl status {unit}`)"
            ),
        }
    }

    /// StopUnit, returning once the unit is stopped and unloaded (a failed one is reset,
    /// which unloads it). A unit that does not exist is fine.
    pub async fn stop(&self, unit: &str) -> Result<()> {
        let mut jobs = self.proxy.receive_signal("JobRemoved").await?;
        let mut unloads = self.proxy.receive_signal("UnitRemoved").await?;
        let job: OwnedObjectPath = match self.proxy.call("StopUnit", &(unit, "replace")).await {
            Ok(j) => j,
            Err(e) if is_no_such_unit(&e) => return Ok(()),
            Err(e) => bail!("systemd: stop {unit}: {}", describe(&e)),
        };
        let result = wait_job(&mut jobs, &job).await?;
        crate::logging::mark("systemd: stop job done");
        if result != "done" {
            bail!("systemd: stop {unit}: the job ended as {result:?}");
        }
        match self
            .proxy
            .call::<_, _, OwnedObjectPath>("GetUnit", &(unit,))
            .await
        {
            Err(e) if is_no_such_unit(&e) => return Ok(()),
            _ => {}
        }
        // Still loaded: failed units stay until reset; others go at the next collection.
        let _ = self.proxy.call_method("ResetFailedUnit", &(unit,)).await;
        let unloaded = async {
            while let Some(m) = unloads.next().await {
                let (name, _): (String, OwnedObjectPath) = m.body().deserialize()?;
                if name == unit {
                    return Ok(());
                }
            }
            bail!("systemd: the bus connection closed")
        };
        within(UNLOAD_TIMEOUT, unloaded, || {
            format!("systemd: {unit} was stopped but is still loaded")
        })
        .await
    }

    /// SetUnitProperties for the running unit (runtime only, as the unit is transient).
    pub async fn set_properties(&self, unit: &str, props: &[Property]) -> Result<()> {
        self.proxy
            .call_method("SetUnitProperties", &(unit, true, props))
            .await
            .map_err(|e| anyhow!("systemd: set properties of {unit}: {}", describe(&e)))?;
        Ok(())
    }
}

/// Waits for the JobRemoved signal of `job` and returns its result ("done", "failed", ...).
async fn wait_job(jobs: &mut SignalStream<'_>, job: &OwnedObjectPath) -> Result<String> {
    let removed = async {
        while let Some(m) = jobs.next().await {
            let (_, path, _, result): (u32, OwnedObjectPath, String, String) =
                m.body().deserialize()?;
            if &path == job {
                return Ok(result);
            }
        }
        bail!("systemd: the bus connection closed")
    };
    within(JOB_TIMEOUT, removed, || {
        format!("systemd: the job {} did not finish", job.as_str())
    })
    .await
}

async fn within<T>(
    limit: Duration,
    f: impl Future<Output = Result<T>>,
    what: impl FnOnce() -> String,
) -> Result<T> {
    let timeout = async {
        async_io::Timer::after(limit).await;
        Err(anyhow!("{} within {}s", what(), limit.as_secs()))
    };
    futures_lite::future::or(f, timeout).await
}

fn is_no_such_unit(e: &zbus::Error) -> bool {
    matches!(e, zbus::Error::MethodError(name, _, _) if name.as_str() == NO_SUCH_UNIT)
}

/// systemd's own words for an error it returned (`Unit x.scope already exists.`).
fn describe(e: &zbus::Error) -> String {
    match e {
        zbus::Error::MethodError(name, Some(msg), _) => format!("{msg} ({name})"),
        e => e.to_string(),
    }
}
