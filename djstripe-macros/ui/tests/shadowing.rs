//! The expansion names nothing the user can shadow.
#![allow(dead_code, non_camel_case_types, unused_macros)]

// Inside a module: what the attribute expands to is resolved there, among the shadows, while
// the test harness's own expansion (at the crate root) is left alone.
mod shadowed {
    use djstripe_core::webhook_handler;

    // Shadow everything the expansion could name unqualified.
    struct Event;
    struct HandlerContext;
    struct HandlerResult;
    struct Option;
    struct Result;
    struct Ok;
    struct Some;
    struct None;
    struct inventory;
    struct djstripe_core_private;
    macro_rules! concat {
        () => {};
    }
    macro_rules! line {
        () => {};
    }
    macro_rules! file {
        () => {};
    }
    macro_rules! module_path {
        () => {};
    }
    mod core {}
    mod std {}

    #[webhook_handler("customer.created")]
    fn with_shadowed_names(_event: &::djstripe_core::Event) {}

    #[webhook_handler("invoice")]
    fn with_result(
        _event: &::djstripe_core::Event,
        _ctx: &mut ::djstripe_core::HandlerContext,
    ) -> ::core::result::Result<(), ::core::fmt::Error> {
        ::core::result::Result::Ok(())
    }
}

#[test]
fn registers() {
    assert_eq!(::djstripe_core::registry::all().len(), 2);
}
