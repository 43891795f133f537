//! The example shop on actix-web. Run with:
//!
//! ```sh
//! cargo run -p shop                 # = shop serve, on sqlite://shop.sqlite3
//! cargo run -p shop -- --help       # every command
//! ```

fn main() -> std::process::ExitCode {
    shop::cli("shop").server(shop::actix_server()).run()
}
