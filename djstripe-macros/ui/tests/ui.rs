//! Compile-time behaviour of `#[webhook_handler]`: every accepted form compiles and registers,
//! every rejected one fails with its own diagnostic.
//!
//! Regenerate the expected output with `TRYBUILD=overwrite cargo test -p djstripe-macros-ui --test ui`
//! and review the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
