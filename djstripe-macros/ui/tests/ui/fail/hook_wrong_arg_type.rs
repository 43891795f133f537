use djstripe_core::hooks::PreProcess;
use djstripe_core::{Event, webhook_hook};

// The argument of another stage.
#[webhook_hook(post_process)]
fn wrong_stage(_call: &PreProcess) {}

// A handler's argument.
#[webhook_hook(pre_validate)]
fn takes_event(_event: &Event) {}

fn main() {}
