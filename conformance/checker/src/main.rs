//! The conformance checker: runs as a container's process and checks, from the inside, that
//! each field of the container's config.json was applied. Prints TAP (one line per check,
//! the plan last) and exits 1 if any check failed, 2 if it could not start.
//!
//! Inputs (put into the rootfs by the harness): the config at `/.conformance/config.json`,
//! and at `/.conformance/host.json` what only the host knows (its namespace inodes, the
//! identity of bind sources).

mod checks;
mod context;
mod mountinfo;
mod sys;
mod tap;

fn main() {
    let ctx = match context::Ctx::load() {
        Ok(c) => c,
        Err(e) => {
            println!("Bail out! {e}");
            std::process::exit(2);
        }
    };
    let mut t = tap::Tap::new();
    checks::process::check(&ctx, &mut t);
    checks::capabilities::check(&ctx, &mut t);
    checks::namespaces::check(&ctx, &mut t);
    checks::paths::check(&ctx, &mut t);
    checks::mounts::check(&ctx, &mut t);
    checks::devices::check(&ctx, &mut t);
    checks::seccomp::check(&ctx, &mut t);
    let ok = t.finish();
    std::process::exit(if ok { 0 } else { 1 });
}
