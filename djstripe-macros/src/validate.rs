//! Checking the parsed arguments and the function, every problem spanned on its own token.

use std::collections::HashMap;

use syn::{FnArg, ItemFn, LitStr};

use crate::args::Args;
use crate::catalog;
use crate::errors::Errors;

/// The accepted signatures, for messages.
pub(crate) const ACCEPTED_FORMS: &str = "a #[webhook_handler] function is `fn(&Event)` or \
     `fn(&Event, &mut HandlerContext)`, returning `()`, `HandlerResult` or `Result<(), E>` \
     with `E: std::error::Error + Send + Sync + 'static`";

/// Checks the event patterns: syntax, duplicates, `*` alone, and (unless `unchecked`) the catalog.
pub(crate) fn patterns(args: &Args, errors: &mut Errors) {
    let mut seen: HashMap<String, &LitStr> = HashMap::new();
    for literal in &args.patterns {
        let pattern = literal.value();
        if let Some(problem) = syntax_problem(&pattern) {
            errors.at(literal.span(), problem);
            continue;
        }
        if let Some(first) = seen.get(&pattern) {
            errors.at(
                literal.span(),
                format!("duplicate event pattern `{pattern}`"),
            );
            errors.at(first.span(), format!("`{pattern}` is first given here"));
            continue;
        }
        seen.insert(pattern.clone(), literal);
        if pattern == "*" && args.patterns.len() > 1 {
            errors.at(
                literal.span(),
                "\"*\" already matches every event: it cannot be combined with other patterns",
            );
        } else if args.unchecked.is_none() && !catalog::is_known(&pattern) {
            errors.at(literal.span(), unknown(&pattern));
        }
    }
}

/// What is wrong with the spelling of `pattern`, whatever the catalog says.
pub(crate) fn syntax_problem(pattern: &str) -> Option<String> {
    let valid_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.';
    if pattern.is_empty() {
        return Some("an event pattern cannot be empty; \"*\" matches every event".to_owned());
    }
    if pattern == "*" || pattern.chars().all(valid_char) && !pattern.split('.').any(str::is_empty) {
        return None;
    }
    let problem = if pattern.chars().any(char::is_whitespace) {
        let compact: String = pattern.chars().filter(|c| !c.is_whitespace()).collect();
        format!("an event pattern contains no whitespace: write \"{compact}\"")
    } else if let Some(prefix) = pattern.strip_suffix(".*").filter(|p| !p.contains('*')) {
        format!("a prefix needs no wildcard: \"{prefix}\" matches every `{prefix}.*` event")
    } else if pattern.contains('*') {
        "`*` stands alone: \"*\" matches every event, and a prefix such as \"customer\" matches \
         every `customer.*` event"
            .to_owned()
    } else if pattern.chars().any(|c| c.is_ascii_uppercase()) {
        format!(
            "Stripe event types are lowercase: write \"{}\"",
            pattern.to_ascii_lowercase()
        )
    } else if let Some(bad) = pattern.chars().find(|c| !valid_char(*c)) {
        format!(
            "`{bad}` cannot appear in a Stripe event type (lowercase letters, digits, `_` and \
             dots between words)"
        )
    } else {
        let words: Vec<&str> = pattern.split('.').filter(|w| !w.is_empty()).collect();
        format!(
            "dots separate words, with no empty word: write \"{}\"",
            words.join(".")
        )
    };
    Some(problem)
}

/// The message for a well-formed pattern the catalog does not know.
fn unknown(pattern: &str) -> String {
    let what = if pattern.contains('.') {
        "event type"
    } else {
        "event type or prefix"
    };
    match catalog::suggest(pattern) {
        Some(word) if word.starts_with(pattern) => format!(
            "unknown Stripe {what} `{pattern}`; prefixes match whole words between dots: did you \
             mean `{word}`?"
        ),
        Some(close) => format!("unknown Stripe {what} `{pattern}`; did you mean `{close}`?"),
        None => format!(
            "unknown Stripe {what} `{pattern}`; see {} (for a type newer than this catalog, \
             add `unchecked`)",
            catalog::DOCS_URL
        ),
    }
}

/// Checks that `func` can be registered; returns whether it takes the `&mut HandlerContext`.
///
/// The argument and return types are not checked here: the expansion coerces the function to a
/// fn pointer, so the compiler reports a mismatch on the user's own signature.
pub(crate) fn function(func: &ItemFn, errors: &mut Errors) -> bool {
    let sig = &func.sig;
    if sig.ident.to_string().starts_with("__djstripe_") {
        errors.spanned(
            &sig.ident,
            "names starting with `__djstripe_` are reserved for the #[webhook_handler] expansion",
        );
    }
    if let Some(constness) = &sig.constness {
        errors.spanned(constness, "a #[webhook_handler] function cannot be `const`");
    }
    if let Some(asyncness) = &sig.asyncness {
        errors.spanned(
            asyncness,
            "a #[webhook_handler] function cannot be `async`: handlers run synchronously inside \
             the event's database transaction (do slow work after the commit, from `ctx.on_commit`)",
        );
    }
    if let Some(unsafety) = &sig.unsafety {
        errors.spanned(unsafety, "a #[webhook_handler] function cannot be `unsafe`");
    }
    if let Some(abi) = &sig.abi {
        errors.spanned(abi, "a #[webhook_handler] function cannot be `extern`");
    }
    if !sig.generics.params.is_empty() {
        errors.spanned(
            &sig.generics,
            "a #[webhook_handler] function cannot have generic or lifetime parameters: it is \
             registered as one concrete function (elided lifetimes, as in `&Event`, are fine)",
        );
    }
    if let Some(where_clause) = &sig.generics.where_clause {
        errors.spanned(
            where_clause,
            "a #[webhook_handler] function cannot have a `where` clause",
        );
    }
    if let Some(variadic) = &sig.variadic {
        errors.spanned(variadic, "a #[webhook_handler] function cannot be variadic");
    }
    if let Some(receiver) = sig
        .inputs
        .iter()
        .find(|arg| matches!(arg, FnArg::Receiver(_)))
    {
        errors.spanned(
            receiver,
            "#[webhook_handler] registers free functions, not methods: move it out of the `impl`, \
             or call the method from a free `fn`",
        );
        return false;
    }
    match sig.inputs.len() {
        1 => false,
        2 => true,
        0 => {
            errors.at(
                sig.paren_token.span.join(),
                format!("{ACCEPTED_FORMS}; this one takes no argument"),
            );
            false
        }
        n => {
            let extra = sig.inputs.iter().skip(2);
            errors.spanned(
                quote::quote!(#(#extra),*),
                format!("{ACCEPTED_FORMS}; this one takes {n} arguments"),
            );
            false
        }
    }
}
