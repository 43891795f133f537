//! Parsing the attribute's arguments.
//!
//! Accepted forms (patterns first, options after, comma-separated, trailing comma allowed):
//!
//! ```text
//! #[webhook_handler("customer.created")]                  // one exact type
//! #[webhook_handler("customer")]                          // a dotted prefix
//! #[webhook_handler("price", "product")]                  // several patterns
//! #[webhook_handler("*")]                                 // every event
//! #[webhook_handler("v2.new.thing", unchecked)]           // skip the catalog check
//! #[webhook_handler("customer.subscription.updated", skip_stale)] // inbox mode: skip older events
//! #[webhook_handler("customer.created", crate = ::path)]  // where the runtime is (re-exports)
//! ```
//!
//! Parsing only sorts the tokens; what the patterns mean is checked in `validate`. Every problem
//! is recorded in [`Errors`] and parsing goes on with the next argument, so all are reported.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::parse::{ParseStream, Parser};
use syn::{LitStr, Path, Token};

use crate::catalog::edit_distance;
use crate::errors::Errors;

mod kw {
    syn::custom_keyword!(unchecked);
    syn::custom_keyword!(skip_stale);
}

/// The parsed arguments of `#[webhook_handler(...)]`.
pub(crate) struct Args {
    /// The event patterns, as written.
    pub(crate) patterns: Vec<LitStr>,
    /// `unchecked`: patterns are not checked against the catalog.
    pub(crate) unchecked: Option<kw::unchecked>,
    pub(crate) skip_stale: Option<kw::skip_stale>,
    /// `crate = path`: replaces `::djstripe_core` in the expansion.
    pub(crate) krate: Option<Path>,
}

/// What the accepted options are called, for messages.
const OPTIONS: &str = "`unchecked`, `skip_stale` or `crate = path`";

/// The bare-word options, for "did you mean".
const WORDS: [&str; 2] = ["unchecked", "skip_stale"];

/// Parses the arguments, recording every problem in `errors`.
pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> Args {
    let mut args = Args { patterns: Vec::new(), unchecked: None, skip_stale: None, krate: None };
    let parser = |input: ParseStream<'_>| {
        while !input.is_empty() {
            parse_one(input, &mut args, errors);
            if !input.is_empty() {
                // `parse_one` stops at a top-level comma or at the end.
                input.parse::<Token![,]>()?;
            }
        }
        Ok(())
    };
    if let Err(error) = parser.parse2(tokens) {
        errors.push(error);
    }
    // Without a pattern, say so, unless an argument was rejected (a pattern without quotes, say).
    if args.patterns.is_empty() && errors.is_empty() {
        errors.at(
            Span::call_site(),
            "#[webhook_handler] needs at least one event pattern, e.g. \
             #[webhook_handler(\"customer.created\")], #[webhook_handler(\"customer\")] or #[webhook_handler(\"*\")]",
        );
    }
    args
}

/// Parses one comma-separated argument. On a problem, records it and skips to the next comma.
fn parse_one(input: ParseStream<'_>, args: &mut Args, errors: &mut Errors) {
    let lookahead = input.lookahead1();
    let parsed = if lookahead.peek(LitStr) {
        input.parse::<LitStr>().map(|pattern| args.patterns.push(pattern))
    } else if lookahead.peek(kw::unchecked) {
        input.parse::<kw::unchecked>().map(|unchecked| match args.unchecked {
            Some(_) => errors.spanned(unchecked, "`unchecked` is given twice"),
            None => args.unchecked = Some(unchecked),
        })
    } else if lookahead.peek(kw::skip_stale) {
        input.parse::<kw::skip_stale>().map(|skip| match args.skip_stale {
            Some(_) => errors.spanned(skip, "`skip_stale` is given twice"),
            None => args.skip_stale = Some(skip),
        })
    } else if lookahead.peek(Token![crate]) {
        parse_crate(input).map(|(krate, path)| match args.krate {
            Some(_) => errors.spanned(quote::quote!(#krate = #path), "`crate = ...` is given twice"),
            None => args.krate = Some(path),
        })
    } else {
        let unexpected = lookahead.error();
        let rest = skip_to_comma(input);
        errors.push(explain(rest, unexpected));
        return;
    };
    if let Err(error) = parsed {
        errors.push(error);
        skip_to_comma(input);
        return;
    }
    // Whatever follows an argument before the next comma is a mistake too.
    if !input.is_empty() && !input.peek(Token![,]) {
        let rest = skip_to_comma(input);
        errors.spanned(
            rest,
            format!(
                "expected `,` between arguments of #[webhook_handler]; arguments are event \
                 patterns (string literals), {OPTIONS}"
            ),
        );
    }
}

/// `crate = path`.
fn parse_crate(input: ParseStream<'_>) -> syn::Result<(Token![crate], Path)> {
    let krate: Token![crate] = input.parse()?;
    input.parse::<Token![=]>()?;
    let path = input.call(Path::parse_mod_style)?;
    Ok((krate, path))
}

/// Consumes the tokens up to the next top-level comma (or the end) and returns them.
fn skip_to_comma(input: ParseStream<'_>) -> TokenStream {
    let mut skipped = TokenStream::new();
    while !input.is_empty() && !input.peek(Token![,]) {
        match input.parse::<TokenTree>() {
            Ok(token) => skipped.extend([token]),
            Err(_) => break,
        }
    }
    skipped
}

/// The error for an argument that is neither a pattern nor an option: says which it looks like.
fn explain(tokens: TokenStream, fallback: syn::Error) -> syn::Error {
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    match trees.as_slice() {
        // `42`, `'c'`, `b"x"`: a literal, but not a string.
        [TokenTree::Literal(literal)] => syn::Error::new(
            literal.span(),
            "event patterns are string literals, e.g. \"customer.created\", \"customer\" or \"*\"",
        ),
        // `name = value`, `name(...)`: an option this attribute does not have.
        [TokenTree::Ident(name), TokenTree::Punct(_) | TokenTree::Group(_), ..] if !looks_like_path(&trees) => {
            syn::Error::new(name.span(), format!("unknown argument `{name}`; the options are {OPTIONS}"))
        }
        // A bare word: a misspelled option, or a pattern without its quotes.
        [TokenTree::Ident(name)] if closest_word(&name.to_string()).is_some() => syn::Error::new(
            name.span(),
            format!(
                "unknown argument `{name}`; did you mean `{}`? (the options are {OPTIONS})",
                closest_word(&name.to_string()).unwrap_or_default()
            ),
        ),
        // `customer` or `customer.created` without quotes.
        _ if looks_like_path(&trees) => {
            let text: String = trees.iter().map(ToString::to_string).collect();
            syn::Error::new_spanned(tokens, format!("event patterns are string literals: write \"{text}\""))
        }
        _ => fallback,
    }
}

/// The option word `name` is a likely misspelling of (at most 3 edits away), if any.
fn closest_word(name: &str) -> Option<&'static str> {
    WORDS.iter().map(|word| (edit_distance(name, word), *word)).filter(|(d, _)| *d <= 3).min().map(|(_, w)| w)
}

/// `customer`, `customer.created`: words separated by single dots.
fn looks_like_path(trees: &[TokenTree]) -> bool {
    trees.iter().enumerate().all(|(i, tree)| match tree {
        TokenTree::Ident(_) => i % 2 == 0,
        TokenTree::Punct(punct) => i % 2 == 1 && punct.as_char() == '.' && i + 1 < trees.len(),
        _ => false,
    })
}
