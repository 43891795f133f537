//! Every accepted form of `#[webhook_hook]`, registered with its stage.
use djstripe_core::hooks::{
    HookResult, PostProcess, PostValidate, PreProcess, PreValidate, ProcessingError, Stage, hooks_for,
};
use djstripe_core::webhook_hook;

#[webhook_hook(pre_validate)]
fn arrived(call: &PreValidate) {
    let _ = call.trigger.remote_ip;
}

#[webhook_hook(post_validate)]
/// `pub` is kept as written.
pub fn validated(_: &PostValidate<'_>) -> HookResult {
    Ok(())
}

#[webhook_hook(pre_process)]
fn starting(_call: &PreProcess) -> Result<(), std::fmt::Error> {
    Ok(())
}

#[webhook_hook(post_process, crate = ::djstripe_core)]
pub(crate) fn done(_call: &'_ PostProcess) {}

#[webhook_hook(processing_error)]
#[allow(clippy::unused_unit)] // `-> ()` written out is an accepted form too
fn r#failed(_call: &ProcessingError) -> () {}

#[test]
fn registers() {
    let found = |stage: Stage, path: &str| {
        let hooks = hooks_for(stage);
        assert_eq!(hooks.len(), 1, "{stage}: {hooks:?}");
        assert!(hooks[0].path().ends_with(path), "{}", hooks[0].path());
        assert_eq!(hooks[0].stage(), stage);
        hooks[0]
    };
    let first = found(Stage::PreValidate, "::arrived");
    assert!(first.file().ends_with("hooks.rs"), "{}", first.file());
    assert_eq!(first.line(), 8, "the line of the function name");
    found(Stage::PostValidate, "::validated");
    found(Stage::PreProcess, "::starting");
    found(Stage::PostProcess, "::done");
    found(Stage::ProcessingError, "::failed");
    assert_eq!(djstripe_core::hooks::all().len(), 5);
}
