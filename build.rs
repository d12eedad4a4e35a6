//! Links the xrun binary with build/cold-code.ld, which keeps the container start path's
//! code together (the script says why).

fn main() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/build/cold-code.ld");
    println!("cargo:rerun-if-changed={script}");
    println!("cargo:rustc-link-arg-bin=xrun=-Wl,-T,{script}");
}
