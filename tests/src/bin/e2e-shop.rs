//! The example shop, built inside this package so its tests can run it as a process
//! (`CARGO_BIN_EXE_e2e-shop`).

fn main() -> std::process::ExitCode {
    shop::cli().run()
}
