//! The example shop on axum, built inside this package so its tests can run it as a process
//! (`target/<profile>/e2e-shop-axum`).

fn main() -> std::process::ExitCode {
    shop::cli("shop-axum").server(shop::axum_server()).run()
}
