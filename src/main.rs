fn main() {
    std::process::exit(xrun::cli::main());
}
