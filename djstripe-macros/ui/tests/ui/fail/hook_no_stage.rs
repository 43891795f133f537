use djstripe_core::hooks::PostProcess;
use djstripe_core::webhook_hook;

#[webhook_hook]
fn no_stage(_call: &PostProcess) {}

#[webhook_hook(post_process, pre_process)]
fn two_stages(_call: &PostProcess) {}

fn main() {}
