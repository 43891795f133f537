use djstripe_core::hooks::PostProcess;
use djstripe_core::webhook_hook;

#[webhook_hook(post_proces)]
fn typo(_call: &PostProcess) {}

#[webhook_hook(webhook_pre_validate)]
fn signal_name(_call: &djstripe_core::hooks::PreValidate) {}

#[webhook_hook(after_commit)]
fn unknown(_call: &PostProcess) {}

#[webhook_hook("post_process")]
fn quoted(_call: &PostProcess) {}

fn main() {}
