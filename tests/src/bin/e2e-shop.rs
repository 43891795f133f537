//! The example shop on actix-web, built inside this package so its tests can run it as a
//! process (`target/<profile>/e2e-shop`).

fn main() -> std::process::ExitCode {
    shop::cli("shop").server(shop::actix_server()).run()
}
