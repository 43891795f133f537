//! The example shop. Run with:
//!
//! ```sh
//! cargo run -p shop                 # = shop serve, on sqlite://shop.sqlite3
//! cargo run -p shop -- --help       # every command
//! ```

fn main() -> std::process::ExitCode {
    shop::cli().run()
}
