//! placeholder
use proc_macro::TokenStream;
/// placeholder
#[proc_macro_attribute]
pub fn webhook_handler(_args: TokenStream, item: TokenStream) -> TokenStream { item }
