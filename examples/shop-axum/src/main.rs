//! The example shop on axum: the same handlers, schema and commands as `shop` (actix-web).
//! Run with:
//!
//! ```sh
//! cargo run -p shop-axum                 # = shop-axum serve, on sqlite://shop-axum.sqlite3
//! cargo run -p shop-axum -- --help       # every command
//! ```

fn main() -> std::process::ExitCode {
    shop::cli("shop-axum").server(shop::axum_server()).run()
}
