//! `#[webhook_hook(stage)]`: parsing its arguments, checking the function, expanding it into the
//! function itself plus its registration.
//!
//! Accepted forms (the stage first, then options):
//!
//! ```text
//! #[webhook_hook(pre_validate)]
//! #[webhook_hook(post_process, crate = ::path)]  // where the runtime is (re-exports)
//! ```

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::{Ident, Item, ItemFn, LitStr, Path, Token};

use crate::catalog::edit_distance;
use crate::errors::Errors;
use crate::validate::{self, Attribute};

/// The stages as the attribute spells them, with the variant of `Stage`/`HookCall` and the
/// argument type each takes (the same name).
const STAGES: [(&str, &str); 5] = [
    ("pre_validate", "PreValidate"),
    ("post_validate", "PostValidate"),
    ("pre_process", "PreProcess"),
    ("post_process", "PostProcess"),
    ("processing_error", "ProcessingError"),
];

const STAGE_LIST: &str = "`pre_validate`, `post_validate`, `pre_process`, `post_process` or `processing_error`";

const HOOK: Attribute = Attribute {
    name: "webhook_hook",
    not_async: "hooks run synchronously on the engine's threads (hand slow work to a queue or a thread)",
};

/// The parsed arguments.
struct Args {
    /// The stage's variant name (`PostProcess`), if one was understood.
    stage: Option<(&'static str, &'static str)>,
    krate: Option<Path>,
}

/// The whole attribute: parse, check, expand. `Err` holds every problem found.
pub(crate) fn webhook_hook(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let args = parse(args, &mut errors);
    let func = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Fn(func)) => func,
        Ok(other) => {
            errors.spanned(other, "#[webhook_hook] applies to a free `fn`");
            return errors.finish().map(|()| item);
        }
        Err(_) => return errors.finish().map(|()| item),
    };
    if validate::shape(&func, &HOOK, &mut errors) {
        arguments(&func, args.stage, &mut errors);
    }
    errors.finish()?;
    let (_, variant) = args.stage.expect("a missing stage is an error");
    let registration = registration(&args, variant, &func);
    Ok(quote! {
        #item
        #registration
    })
}

fn parse(tokens: TokenStream, errors: &mut Errors) -> Args {
    let mut args = Args { stage: None, krate: None };
    let mut stage_seen = false;
    let parser = |input: ParseStream<'_>| {
        while !input.is_empty() {
            if input.peek(Token![crate]) {
                let krate: Token![crate] = input.parse()?;
                input.parse::<Token![=]>()?;
                let path = input.call(Path::parse_mod_style)?;
                match args.krate {
                    Some(_) => errors.spanned(quote!(#krate = #path), "`crate = ...` is given twice"),
                    None => args.krate = Some(path),
                }
            } else if input.peek(LitStr) {
                let literal: LitStr = input.parse()?;
                let text = literal.value();
                let message = match closest(&text) {
                    Some((word, _)) if word == text => format!("a stage is a word, not a string: write `{word}`"),
                    Some((word, _)) => format!("a stage is a word, not a string; did you mean `{word}`?"),
                    None => format!("a stage is a word, not a string: {STAGE_LIST}"),
                };
                errors.at(literal.span(), message);
                stage_seen = true;
            } else if input.peek(Ident::peek_any) {
                let word = input.call(Ident::parse_any)?;
                let text = word.unraw().to_string();
                if stage_seen {
                    errors.spanned(
                        &word,
                        format!(
                            "unknown argument `{text}`: a hook has one stage (write one function per stage); \
                             the only option is `crate = path`"
                        ),
                    );
                } else {
                    stage_seen = true;
                    match closest(&text) {
                        Some((name, variant)) if name == text => args.stage = Some((name, variant)),
                        Some((name, _)) => errors.spanned(
                            &word,
                            format!(
                                "unknown hook stage `{text}`; did you mean `{name}`? (the stages are {STAGE_LIST})"
                            ),
                        ),
                        None => {
                            errors.spanned(&word, format!("unknown hook stage `{text}`; the stages are {STAGE_LIST}"))
                        }
                    }
                }
            } else {
                return Err(input.error(format!("expected a hook stage: {STAGE_LIST}")));
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        Ok(())
    };
    if let Err(error) = parser.parse2(tokens) {
        errors.push(error);
    }
    if !stage_seen && errors.is_empty() {
        errors.at(
            Span::call_site(),
            format!("#[webhook_hook] needs a stage, e.g. #[webhook_hook(post_process)]: {STAGE_LIST}"),
        );
    }
    args
}

/// The stage `text` is, or most likely meant: exact, then dj-stripe's signal name
/// (`webhook_post_process`) or another case (`PostProcess`), then the closest within 3 edits.
fn closest(text: &str) -> Option<(&'static str, &'static str)> {
    if let Some(exact) = STAGES.iter().find(|(name, _)| *name == text) {
        return Some(*exact);
    }
    let squash = |s: &str| s.to_ascii_lowercase().replace('_', "");
    let plain = squash(text.strip_prefix("webhook_").unwrap_or(text));
    if let Some(found) = STAGES.iter().find(|(name, _)| squash(name) == plain) {
        return Some(*found);
    }
    STAGES
        .iter()
        .map(|stage| (edit_distance(text, stage.0), *stage))
        .filter(|(distance, _)| *distance <= 3)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, stage)| stage)
}

/// One argument, `&Stage` (its type is checked by the compiler, on the signature).
fn arguments(func: &ItemFn, stage: Option<(&str, &str)>, errors: &mut Errors) {
    let sig = &func.sig;
    let form = match stage {
        Some((name, variant)) => format!("a #[webhook_hook({name})] function is `fn(&{variant})`"),
        None => "a #[webhook_hook] function takes one argument, the stage's (`&PostProcess`, ...)".to_owned(),
    };
    let form = format!(
        "{form}, returning `()`, `HookResult` or `Result<(), E>` with `E: std::error::Error + Send + Sync + 'static`"
    );
    match sig.inputs.len() {
        1 => {}
        0 => errors.at(sig.paren_token.span.join(), format!("{form}; this one takes no argument")),
        n => {
            let extra = sig.inputs.iter().skip(1);
            errors.spanned(quote!(#(#extra),*), format!("{form}; this one takes {n} arguments"));
        }
    }
}

/// The `const _: () = { ... };` beside the function: an adapter to `HookFn` and its `inventory`
/// submission.
fn registration(args: &Args, variant: &str, func: &ItemFn) -> TokenStream {
    let private = match &args.krate {
        Some(krate) => quote!(#krate::__private),
        None => quote!(::djstripe_core::__private),
    };
    let sig = &func.sig;
    let ident = &sig.ident;
    let name = ident.unraw().to_string();
    let variant = format_ident!("{variant}");
    // Spanned on the user's parameter list and return type, so a mismatch is reported there.
    let inputs_span = sig.paren_token.span.join();
    let fn_pointer = quote_spanned!(inputs_span=> fn(&#private::#variant<'_>) -> _);
    let convert = quote!(#private::IntoHookResult::into_hook_result);
    let call = crate::expand::call_user_fn(sig, &quote!(__djstripe_stage), &convert);
    let line = quote_spanned!(ident.span()=> ::core::line!());
    let cfgs = func.attrs.iter().filter(|attr| attr.path().is_ident("cfg"));

    quote! {
        #(#cfgs)*
        #[doc(hidden)]
        const _: () = {
            fn __djstripe_hook(__djstripe_call: &#private::HookCall<'_>) -> #private::HookResult {
                match __djstripe_call {
                    #private::HookCall::#variant(__djstripe_stage) => {
                        let __djstripe_user_fn: #fn_pointer = #ident;
                        #call
                    }
                    _ => ::core::result::Result::Ok(()),
                }
            }
            #private::inventory::submit! {
                #private::HookRegistration::new(
                    #private::Stage::#variant,
                    ::core::concat!(::core::module_path!(), "::", #name),
                    ::core::file!(),
                    #line,
                    __djstripe_hook,
                )
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(args: TokenStream) -> Vec<String> {
        let mut errors = Errors::default();
        parse(args, &mut errors);
        errors.finish().err().map(|e| e.into_iter().map(|e| e.to_string()).collect()).unwrap_or_default()
    }

    #[test]
    fn stages_and_what_they_were_meant_to_be() {
        for (name, variant) in STAGES {
            assert_eq!(closest(name), Some((name, variant)));
        }
        assert_eq!(closest("post_proces").map(|s| s.0), Some("post_process"));
        assert_eq!(closest("webhook_post_process").map(|s| s.0), Some("post_process"));
        assert_eq!(closest("PostValidate").map(|s| s.0), Some("post_validate"));
        assert_eq!(closest("processing_err").map(|s| s.0), Some("processing_error"));
        assert_eq!(closest("after_commit"), None);
    }

    #[test]
    fn arguments() {
        assert!(messages(quote!(pre_validate)).is_empty());
        assert!(messages(quote!(post_process, crate = ::some::path,)).is_empty());
        assert_eq!(messages(quote!()).len(), 1);
        assert!(messages(quote!())[0].contains("needs a stage"));
        assert!(messages(quote!(pre_proces))[0].contains("did you mean `pre_process`?"));
        assert!(messages(quote!("pre_process"))[0].contains("write `pre_process`"));
        assert!(messages(quote!(pre_process, post_process))[0].contains("a hook has one stage"));
        assert!(messages(quote!(pre_process, crate = a, crate = b))[0].contains("given twice"));
    }
}
