//! Compile-time behaviour of `#[webhook_handler]`: every rejected form fails with its own
//! diagnostic. (The accepted forms are this crate's other tests, one binary each, so that each
//! sees only its own registrations: trybuild then only type-checks, never builds, its
//! dependencies.)
//!
//! Regenerate the expected output with `TRYBUILD=overwrite cargo test -p djstripe-macros-ui --test ui`
//! and review the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
}
