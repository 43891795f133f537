//! `app::webhook_path`: which endpoint the path below `{prefix}/webhook` names. The URL faces the
//! open internet; `fuzz/fuzz_targets/webhook_request.rs` checks the same rules on any input.

use djstripe_core::app::{WebhookPath, webhook_path};

const UUID: &str = "6f1c1d0e-8a4b-4c43-9d7e-2f0a6f1c1d0e";

#[test]
fn legacy_is_the_bare_path_only() {
    assert_eq!(webhook_path(""), WebhookPath::Legacy);
    assert_eq!(webhook_path("/"), WebhookPath::Legacy);
}

#[test]
fn an_endpoint_is_one_non_empty_segment() {
    for path in [format!("/{UUID}"), format!("/{UUID}/")] {
        assert_eq!(webhook_path(&path), WebhookPath::Endpoint(UUID.into()), "{path}");
    }
    // Not a UUID: still one segment, so the engine answers it (with the same 404 as an unknown one).
    assert_eq!(webhook_path("/ /"), WebhookPath::Endpoint(" ".into()));
}

/// Found by the fuzzer (fuzz/corpus/webhook_request/regression-double-slash): `//` was read as the
/// legacy endpoint. An empty segment names no endpoint, and the legacy one is `""` or `"/"`.
#[test]
fn an_empty_segment_is_not_found() {
    for path in ["//", "///", "//x", "x", &format!("/{UUID}//"), &format!("//{UUID}"), "/a/b/"] {
        assert_eq!(webhook_path(path), WebhookPath::NotFound, "{path:?}");
    }
}
