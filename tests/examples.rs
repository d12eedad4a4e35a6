//! The bundles in bundle-examples/ run as the README says.

mod common;

use std::path::Path;

use common::*;

/// Copies the example configs to a temp dir and builds their rootfs there.
fn examples(env: &Env) -> std::path::PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("bundle-examples");
    let dst = env.dir.path().join("examples");
    for name in ["hello", "readonly", "userns", "hooks", "shell"] {
        std::fs::create_dir_all(dst.join(name)).unwrap();
        std::fs::copy(
            src.join(name).join("config.json"),
            dst.join(name).join("config.json"),
        )
        .unwrap();
    }
    let ok = std::process::Command::new(src.join("build-rootfs.sh"))
        .arg(&dst)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success());
    dst
}

#[test]
fn example_bundles_run() {
    let env = Env::new();
    let ex = examples(&env);
    let run = |name: &str| env.ok(&["run", "-b", ex.join(name).to_str().unwrap(), &env.id(name)]);
    assert_eq!(run("hello"), "Hello from xrun: hello, pid 1, uid 0\n");
    let ro = run("readonly");
    assert!(
        ro.contains("masked: []") && ro.contains("/tmp is writable"),
        "{ro}"
    );
    let userns = run("userns");
    assert!(userns.contains("uid map: 0 100000 65536"), "{userns}");
    assert_eq!(
        run("hooks"),
        "container runs\nstartContainer: inside the container (hostname hooks)\n"
    );
    let log = std::fs::read_to_string(ex.join("hooks/hooks.log")).unwrap();
    let kinds: Vec<&str> = log.lines().map(|l| l.split(':').next().unwrap()).collect();
    assert_eq!(
        kinds,
        ["createRuntime", "createContainer", "poststart", "poststop"]
    );
}

#[test]
fn the_shell_example_gets_a_terminal() {
    let env = Env::new();
    let ex = examples(&env);
    // Feed the interactive shell a command; xrun relays the pty to our stdio.
    let input = env.dir.path().join("input");
    std::fs::write(&input, "tty; exit 3\n").unwrap();
    let out_path = env.dir.path().join("shell.out");
    let status = env
        .cmd(&[
            "run",
            "-b",
            ex.join("shell").to_str().unwrap(),
            &env.id("shell"),
        ])
        .stdin(std::fs::File::open(&input).unwrap())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(3));
    assert!(std::fs::read_to_string(&out_path)
        .unwrap()
        .contains("/dev/pts/0"));
}
