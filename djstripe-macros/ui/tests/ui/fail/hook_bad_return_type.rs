use djstripe_core::hooks::PostProcess;
use djstripe_core::webhook_hook;

#[webhook_hook(post_process)]
fn returns_number(_call: &PostProcess) -> u32 {
    7
}

#[webhook_hook(post_process)]
async fn not_async(_call: &PostProcess<'_>) {}

fn main() {}
