use djstripe_core::hooks::PostProcess;
use djstripe_core::{HandlerContext, webhook_hook};

#[webhook_hook(post_process)]
fn none() {}

#[webhook_hook(post_process)]
fn two(_call: &PostProcess, _ctx: &mut HandlerContext) {}

fn main() {}
