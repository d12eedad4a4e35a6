fn main() {
    xrun::process::memory::trim_fault_around();
    std::process::exit(xrun::cli::main());
}
