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
            errors.at(literal.span(), format!("duplicate event pattern `{pattern}`"));
            errors.at(first.span(), format!("`{pattern}` is first given here"));
            continue;
        }
        seen.insert(pattern.clone(), literal);
        if pattern == "*" && args.patterns.len() > 1 {
            errors.at(literal.span(), "\"*\" already matches every event: it cannot be combined with other patterns");
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
    if let Some(problem) = bracket_problem(pattern) {
        return problem;
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
        format!("Stripe event types are lowercase: write \"{}\"", pattern.to_ascii_lowercase())
    } else if let Some(bad) = pattern.chars().find(|c| !valid_char(*c)) {
        format!(
            "`{bad}` cannot appear in a Stripe event type (lowercase letters, digits, `_` and \
             dots between words)"
        )
    } else {
        let words: Vec<&str> = pattern.split('.').filter(|w| !w.is_empty()).collect();
        format!("dots separate words, with no empty word: write \"{}\"", words.join("."))
    };
    Some(problem)
}

/// A v2 type's bracketed part (`v2.core.account[configuration.customer].updated`): `Some(None)`
/// when `pattern` is well formed with brackets (each `[...]` closed, not nested, after a word,
/// followed by a dot or the end, words of `[a-z0-9_]` outside and dotted words inside),
/// `Some(Some(problem))` when its brackets are wrong, `None` when it has none.
fn bracket_problem(pattern: &str) -> Option<Option<String>> {
    if !pattern.contains(['[', ']']) {
        return None;
    }
    let word = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    let mut rest = pattern;
    let mut first = true;
    while !rest.is_empty() {
        if !first {
            let Some(after) = rest.strip_prefix('.') else { return Some(Some(brackets_message(pattern))) };
            rest = after;
        }
        first = false;
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        if !word(&rest[..end]) {
            return Some(Some(brackets_message(pattern)));
        }
        rest = &rest[end..];
        if let Some(inside) = rest.strip_prefix('[') {
            let Some(close) = inside.find(']') else { return Some(Some(brackets_message(pattern))) };
            if inside[..close].contains('[') || !inside[..close].split('.').all(word) {
                return Some(Some(brackets_message(pattern)));
            }
            rest = &inside[close + 1..];
        }
    }
    Some(None)
}

fn brackets_message(pattern: &str) -> String {
    format!(
        "`{pattern}` has a malformed bracketed part: v2 types write it after a word, with dotted \
         words inside, as in \"v2.core.account[configuration.customer].updated\""
    )
}

/// The message for a well-formed pattern the catalog does not know.
fn unknown(pattern: &str) -> String {
    let what = if pattern.contains('.') { "event type" } else { "event type or prefix" };
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

/// Which attribute a function is checked for, for the messages.
pub(crate) struct Attribute {
    /// `webhook_handler`, `webhook_hook`.
    pub(crate) name: &'static str,
    /// Why the function cannot be `async`.
    pub(crate) not_async: &'static str,
}

/// `#[webhook_handler]`.
pub(crate) const HANDLER: Attribute = Attribute {
    name: "webhook_handler",
    not_async: "handlers run synchronously inside the event's database transaction (do slow work \
                after the commit, from `ctx.on_commit`)",
};

/// Checks that `func` can be registered; returns whether it takes the `&mut HandlerContext`.
///
/// The argument and return types are not checked here: the expansion coerces the function to a
/// fn pointer, so the compiler reports a mismatch on the user's own signature.
pub(crate) fn function(func: &ItemFn, errors: &mut Errors) -> bool {
    if !shape(func, &HANDLER, errors) {
        return false;
    }
    let sig = &func.sig;
    match sig.inputs.len() {
        1 => false,
        2 => true,
        0 => {
            errors.at(sig.paren_token.span.join(), format!("{ACCEPTED_FORMS}; this one takes no argument"));
            false
        }
        n => {
            let extra = sig.inputs.iter().skip(2);
            errors.spanned(quote::quote!(#(#extra),*), format!("{ACCEPTED_FORMS}; this one takes {n} arguments"));
            false
        }
    }
}

/// What every registered function must be: a free, plain, non-generic `fn`. Returns `false` for
/// a method (its arguments are not worth checking then).
pub(crate) fn shape(func: &ItemFn, attribute: &Attribute, errors: &mut Errors) -> bool {
    let sig = &func.sig;
    let name = attribute.name;
    if sig.ident.to_string().starts_with("__djstripe_") {
        errors
            .spanned(&sig.ident, format!("names starting with `__djstripe_` are reserved for the #[{name}] expansion"));
    }
    if let Some(constness) = &sig.constness {
        errors.spanned(constness, format!("a #[{name}] function cannot be `const`"));
    }
    if let Some(asyncness) = &sig.asyncness {
        errors.spanned(asyncness, format!("a #[{name}] function cannot be `async`: {}", attribute.not_async));
    }
    if let Some(unsafety) = &sig.unsafety {
        errors.spanned(unsafety, format!("a #[{name}] function cannot be `unsafe`"));
    }
    if let Some(abi) = &sig.abi {
        errors.spanned(abi, format!("a #[{name}] function cannot be `extern`"));
    }
    if !sig.generics.params.is_empty() {
        errors.spanned(
            &sig.generics,
            format!(
                "a #[{name}] function cannot have generic or lifetime parameters: it is \
                 registered as one concrete function (elided lifetimes, as in `&Event`, are fine)"
            ),
        );
    }
    if let Some(where_clause) = &sig.generics.where_clause {
        errors.spanned(where_clause, format!("a #[{name}] function cannot have a `where` clause"));
    }
    if let Some(variadic) = &sig.variadic {
        errors.spanned(variadic, format!("a #[{name}] function cannot be variadic"));
    }
    if let Some(receiver) = sig.inputs.iter().find(|arg| matches!(arg, FnArg::Receiver(_))) {
        errors.spanned(
            receiver,
            format!(
                "#[{name}] registers free functions, not methods: move it out of the `impl`, \
                 or call the method from a free `fn`"
            ),
        );
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn check_patterns(args: proc_macro2::TokenStream) -> syn::Result<()> {
        let mut errors = Errors::default();
        let args = crate::args::parse(args, &mut errors);
        patterns(&args, &mut errors);
        errors.finish()
    }

    fn messages(result: syn::Result<()>) -> Vec<String> {
        result.err().map(|e| e.into_iter().map(|e| e.to_string()).collect()).unwrap_or_default()
    }

    #[test]
    fn well_formed_patterns() {
        for ok in [
            "*",
            "customer",
            "customer.created",
            "v2.core.event_destination.ping",
            "a1_b",
            "v2.core.account[configuration.customer].updated",
            "v2.core.account[requirements]",
        ] {
            assert_eq!(syntax_problem(ok), None, "{ok}");
        }
    }

    #[test]
    fn malformed_brackets_explain_themselves() {
        for bad in [
            "v2.core.account[configuration.customer",
            "v2.core.account]",
            "v2.core.[x].updated",
            "v2.core.account[].updated",
            "v2.core.account[a..b].updated",
            "v2.core.account[a[b]].updated",
            "v2.core.account[a]b.updated",
            "[a].b",
        ] {
            let problem = syntax_problem(bad).unwrap_or_else(|| panic!("{bad} should be malformed"));
            assert!(problem.contains("bracketed part"), "{bad}: {problem}");
        }
    }

    #[test]
    fn malformed_patterns_explain_themselves() {
        let problem = |p: &str| syntax_problem(p).unwrap();
        assert!(problem("").contains("cannot be empty"));
        assert!(problem("customer created").contains("write \"customercreated\""));
        assert!(problem("Customer.Created").contains("write \"customer.created\""));
        assert!(problem("customer.*").contains("\"customer\" matches every `customer.*` event"));
        assert!(problem("cus*").contains("`*` stands alone"));
        assert!(problem("customer-created").contains("`-` cannot appear"));
        assert!(problem(".customer").contains("write \"customer\""));
        assert!(problem("customer.").contains("write \"customer\""));
        assert!(problem("customer..created").contains("write \"customer.created\""));
    }

    #[test]
    fn accepted_arguments() {
        assert!(check_patterns(quote!("customer.created")).is_ok());
        assert!(check_patterns(quote!("price", "product",)).is_ok());
        assert!(check_patterns(quote!("*")).is_ok());
        assert!(check_patterns(quote!("v2.brand_new.thing", unchecked)).is_ok());
        assert!(check_patterns(quote!("customer", crate = ::some_reexport::path)).is_ok());
        assert!(check_patterns(quote!("customer", unchecked, crate = my::path)).is_ok());
    }

    #[test]
    fn every_problem_is_reported() {
        let found = messages(check_patterns(quote!("custmer.created", "", "cust", "x", "x", 7, bogus = 1)));
        assert_eq!(found.len(), 8, "{found:#?}");
        assert!(found[0].contains("event patterns are string literals"), "{found:#?}");
        assert!(found[1].contains("unknown argument `bogus`"), "{found:#?}");
        assert!(found[2].contains("did you mean `customer.created`?"), "{found:#?}");
        assert!(found[3].contains("cannot be empty"), "{found:#?}");
        assert!(found[4].contains("did you mean `customer`?"), "{found:#?}");
        assert!(found[5].contains("unknown Stripe event type or prefix `x`"), "{found:#?}");
        assert!(found[6].contains("duplicate event pattern `x`"), "{found:#?}");
        assert!(found[7].contains("`x` is first given here"), "{found:#?}");
    }

    #[test]
    fn options_given_twice() {
        let found = messages(check_patterns(quote!("customer", unchecked, unchecked, crate = a, crate = b)));
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(found[0].contains("`unchecked` is given twice"));
        assert!(found[1].contains("`crate = ...` is given twice"));
    }

    #[test]
    fn no_pattern() {
        let found = messages(check_patterns(quote!()));
        assert_eq!(found.len(), 1);
        assert!(found[0].contains("needs at least one event pattern"));
        assert!(messages(check_patterns(quote!(unchecked)))[0].contains("needs at least one event pattern"));
    }

    #[test]
    fn star_stands_alone() {
        let found = messages(check_patterns(quote!("*", "customer")));
        assert_eq!(found, ["\"*\" already matches every event: it cannot be combined with other patterns"]);
    }
}
