//! Differential tests: each scenario runs under Debian's runc 1.1.5 and under xrun, and what
//! the two did (exit statuses, states, what the container saw, what was left on the host)
//! must be the same. runc is the reference where the runtime-spec leaves behaviour open.
//! One module per area; `common::differential` is the harness.

#[path = "../common/mod.rs"]
mod common;

mod lifecycle;
