//! Turning a checked function into the function itself plus its registration.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Item, ItemFn, ReturnType};

use crate::args::{self, Args};
use crate::errors::Errors;
use crate::validate;

/// The whole attribute: parse, check, expand. `Err` holds every problem found.
pub(crate) fn webhook_handler(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let args = args::parse(args, &mut errors);
    validate::patterns(&args, &mut errors);

    let func = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Fn(func)) => func,
        Ok(other) => {
            errors.spanned(other, "#[webhook_handler] applies to a free `fn`");
            return errors.finish().map(|()| item);
        }
        // Not an item at all: the compiler reports the syntax error on the tokens we hand back.
        Err(_) => return errors.finish().map(|()| item),
    };
    let takes_context = validate::function(&func, &mut errors);
    errors.finish()?;

    let registration = registration(&args, &func, takes_context);
    Ok(quote! {
        #item
        #registration
    })
}

/// The `const _: () = { ... };` beside the function: an adapter to the uniform `HandlerFn`
/// signature and its `inventory` submission.
fn registration(args: &Args, func: &ItemFn, takes_context: bool) -> TokenStream {
    // Every runtime item is reached through this one path (`crate = ...` replaces it).
    let private = match &args.krate {
        Some(krate) => quote!(#krate::__private),
        None => quote!(::djstripe_core::__private),
    };
    let sig = &func.sig;
    let ident = &sig.ident;
    let name = ident.unraw().to_string();
    let patterns = &args.patterns;

    // The coercion to a fn pointer is spanned on the user's function name and parameter list, so
    // a wrong argument type is reported there; the conversion of the result is spanned on the
    // return type, so a return type that is not allowed is explained there
    // (`IntoHandlerResult` has `#[diagnostic::on_unimplemented]`).
    let inputs_span = sig.paren_token.span.join();
    let (fn_pointer, ctx_param, call_args) = if takes_context {
        (
            quote_spanned!(inputs_span=> fn(&#private::Event, &mut #private::HandlerContext<'_>) -> _),
            quote!(__djstripe_ctx),
            quote!(__djstripe_event, __djstripe_ctx),
        )
    } else {
        (quote_spanned!(inputs_span=> fn(&#private::Event) -> _), quote!(_), quote!(__djstripe_event))
    };
    let convert = quote!(#private::IntoHandlerResult::into_handler_result);
    let call = call_user_fn(sig, &call_args, &convert);
    let line = quote_spanned!(ident.span()=> ::core::line!());
    let skip_stale = args.skip_stale.map(|skip| quote_spanned!(skip.span=> .skipping_stale()));
    // `#[webhook_handler] #[cfg(...)] fn ...`: the registration exists exactly when the
    // function does.
    let cfgs = func.attrs.iter().filter(|attr| attr.path().is_ident("cfg"));

    quote! {
        #(#cfgs)*
        #[doc(hidden)]
        const _: () = {
            fn __djstripe_handler(
                __djstripe_event: &#private::Event,
                #ctx_param: &mut #private::HandlerContext<'_>,
            ) -> #private::HandlerResult {
                let __djstripe_user_fn: #fn_pointer = #ident;
                #call
            }
            #private::inventory::submit! {
                #private::HandlerRegistration::new(
                    &[#(#patterns),*],
                    ::core::concat!(::core::module_path!(), "::", #name),
                    ::core::file!(),
                    #line,
                    __djstripe_handler,
                )#skip_stale
            }
        };
    }
}

/// The call of the user's function (bound as `__djstripe_user_fn`) with `args`, as the
/// registration's `Result`: a function returning `()` is called as a statement (passing its unit
/// value on would be clippy's `unit_arg` in the user's crate whenever a token of the call is
/// theirs, `crate = path`); any other result goes through `convert`, spanned on the return type,
/// so that a type that is not allowed is explained there (its trait has
/// `#[diagnostic::on_unimplemented]`). Shared by `#[webhook_handler]` and `#[webhook_hook]`.
pub(crate) fn call_user_fn(sig: &syn::Signature, args: &TokenStream, convert: &TokenStream) -> TokenStream {
    let output_span = match &sig.output {
        ReturnType::Default => sig.ident.span(),
        ReturnType::Type(_, ty) => ty.span(),
    };
    let returns_unit = match &sig.output {
        ReturnType::Default => true,
        ReturnType::Type(_, ty) => matches!(&**ty, syn::Type::Tuple(tuple) if tuple.elems.is_empty()),
    };
    if returns_unit {
        quote_spanned! {output_span=>
            __djstripe_user_fn(#args);
            ::core::result::Result::Ok(())
        }
    } else {
        quote_spanned! {output_span=>
            #convert(__djstripe_user_fn(#args))
        }
    }
}
