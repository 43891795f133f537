//! Nothing: the crate exists for its UI tests (`tests/ui.rs`); see its `Cargo.toml` for why they
//! live here rather than in `djstripe-macros`.
