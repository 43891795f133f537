#![allow(missing_docs)]
//! Lifecycle hooks against real databases (a SQLite file, the PostgreSQL server on
//! 127.0.0.1:5432): which stages run, in which order, with which arguments, and that a hook's
//! error or panic changes nothing.
//!
//! The hooks below record every call in [`LOG`], keyed by the event id (taken from the raw body
//! before validation), so that the tests, which run in parallel, each read only their own
//! deliveries. Each test selects the hooks it is about with a `HandlerSet`.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use djstripe_core::backoff::Backoff;
use djstripe_core::db::{Backend, Outcome, Processing};
use djstripe_core::engine::inbox::Settled;
use djstripe_core::engine::{Delivery, Engine, EngineConfig, InboxConfig, Receipt};
use djstripe_core::hooks::{PostProcess, PostValidate, PreProcess, PreValidate, ProcessingError, Trigger};
use djstripe_core::registry::HandlerSet;
use djstripe_core::testing::{EventBuilder, TestApp, TestDatabase};
use djstripe_core::{Error, Event, HandlerError, HandlerResult, webhook_handler, webhook_hook};
use serde_json::json;
use support::*;

/// One call seen: the event id it is about, the stage (or `handler`) and what it was given.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    event: String,
    stage: &'static str,
    detail: String,
}

static LOG: Mutex<Vec<Seen>> = Mutex::new(Vec::new());

/// Event ids whose handler fails the first time only.
static FAIL_ONCE: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn fail_once(id: &str) {
    FAIL_ONCE.lock().unwrap().push(id.to_owned());
}

fn log(event: &str, stage: &'static str, detail: String) {
    LOG.lock().unwrap().push(Seen { event: event.to_owned(), stage, detail });
}

/// What was seen about `event`, in order.
fn seen(event: &str) -> Vec<(&'static str, String)> {
    LOG.lock().unwrap().iter().filter(|s| s.event == event).map(|s| (s.stage, s.detail.clone())).collect()
}

fn stages(event: &str) -> Vec<&'static str> {
    seen(event).into_iter().map(|(stage, _)| stage).collect()
}

/// The event id of a raw (maybe unverified) body.
fn body_id(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["id"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn trigger_detail(trigger: &Trigger) -> String {
    format!(
        "endpoint={:?} ip={} body={}B reprocess_of={:?}",
        trigger.endpoint_id,
        trigger.remote_ip,
        trigger.body.len(),
        trigger.reprocess_of
    )
}

#[webhook_handler("customer")]
fn hooked_customer(event: &Event) -> HandlerResult {
    log(&event.id, "handler", String::new());
    if event.data.object["metadata"]["fail"] == "yes" {
        return Err(HandlerError::msg("metadata.fail is yes"));
    }
    let mut fail_once = FAIL_ONCE.lock().unwrap();
    if let Some(at) = fail_once.iter().position(|id| *id == event.id) {
        fail_once.remove(at);
        return Err(HandlerError::msg("transient failure"));
    }
    Ok(())
}

#[webhook_hook(pre_validate)]
fn record_pre_validate(call: &PreValidate) {
    log(&body_id(call.trigger.body), "pre_validate", trigger_detail(&call.trigger));
}

#[webhook_hook(post_validate)]
fn record_post_validate(call: &PostValidate) {
    let verdict = match call.verdict {
        Ok(event) => format!("valid {}", event.event_type()),
        Err(error) => format!("invalid {}", error.http_status()),
    };
    log(&body_id(call.trigger.body), "post_validate", format!("{} {verdict}", trigger_detail(&call.trigger)));
}

#[webhook_hook(pre_process)]
fn record_pre_process(call: &PreProcess) {
    log(&call.event.id, "pre_process", format!("{} {:?}", trigger_detail(&call.trigger), call.cause));
}

#[webhook_hook(post_process)]
fn record_post_process(call: &PostProcess) {
    let r = call.receipt;
    let detail = format!(
        "{} {:?} {} trigger={} handlers={}",
        trigger_detail(&call.trigger),
        call.cause,
        r.outcome,
        r.trigger_id,
        r.handlers
    );
    log(&call.event.id, "post_process", detail);
}

#[webhook_hook(processing_error)]
fn record_processing_error(call: &ProcessingError) {
    let error = match call.error {
        Error::Handler { handler, message, .. } => {
            format!("handler {} {message}", handler.rsplit("::").next().unwrap())
        }
        other => format!("{other}"),
    };
    log(
        &call.event.id,
        "processing_error",
        format!(
            "{} {:?} trigger={:?} {error}{}",
            trigger_detail(&call.trigger),
            call.cause,
            call.trigger_id,
            if call.will_retry { " (will retry)" } else { "" }
        ),
    );
}

// Hooks that fail at every stage, by error and by panic. Their paths sort before the recording
// hooks', so those run after them: a failing hook stops no other hook.

#[webhook_hook(pre_validate)]
fn broken_err_pre_validate(_: &PreValidate) -> Result<(), std::fmt::Error> {
    Err(std::fmt::Error)
}

#[webhook_hook(pre_validate)]
fn broken_panic_pre_validate(_: &PreValidate) {
    panic!("pre_validate hook panics");
}

#[webhook_hook(post_validate)]
fn broken_err_post_validate(_: &PostValidate) -> djstripe_core::hooks::HookResult {
    Err(HandlerError::msg("post_validate hook fails\nINFO forged log line"))
}

#[webhook_hook(post_validate)]
fn broken_panic_post_validate(_: &PostValidate) {
    panic!("post_validate hook panics");
}

#[webhook_hook(pre_process)]
fn broken_err_pre_process(_: &PreProcess) -> djstripe_core::hooks::HookResult {
    Err(HandlerError::msg("pre_process hook fails"))
}

#[webhook_hook(pre_process)]
fn broken_panic_pre_process(_: &PreProcess) {
    panic!("pre_process hook panics");
}

#[webhook_hook(post_process)]
fn broken_err_post_process(_: &PostProcess) -> djstripe_core::hooks::HookResult {
    Err(HandlerError::msg("post_process hook fails"))
}

#[webhook_hook(post_process)]
fn broken_panic_post_process(_: &PostProcess) {
    panic!("post_process hook panics");
}

#[webhook_hook(processing_error)]
fn broken_err_processing_error(_: &ProcessingError) -> djstripe_core::hooks::HookResult {
    Err(HandlerError::msg("processing_error hook fails"))
}

#[webhook_hook(processing_error)]
fn broken_panic_processing_error(_: &ProcessingError) {
    panic!("processing_error hook panics");
}

/// The database the `committed_yet_*` hooks look into, by event id (one test per backend sets it).
static LOOK_INTO: Mutex<Option<HashMap<String, djstripe_core::db::Database>>> = Mutex::new(None);

/// Whether `event` and trigger row `trigger` are visible on another connection: committed.
fn visible(event: &str, trigger: Option<i64>) -> String {
    let db = LOOK_INTO.lock().unwrap().as_ref().and_then(|m| m.get(event).cloned()).expect("the test sets LOOK_INTO");
    format!("event={} trigger={}", db.event(event).is_ok(), trigger.is_some_and(|t| db.trigger(t).is_ok()))
}

#[webhook_hook(pre_process)]
fn committed_yet_pre(call: &PreProcess) {
    log(&call.event.id, "committed_yet", visible(&call.event.id, None));
}

#[webhook_hook(post_process)]
fn committed_yet_post(call: &PostProcess) {
    log(&call.event.id, "committed_yet", visible(&call.event.id, Some(call.receipt.trigger_id)));
}

#[webhook_hook(processing_error)]
fn committed_yet_error(call: &ProcessingError) {
    log(&call.event.id, "committed_yet", visible(&call.event.id, call.trigger_id));
}

const RECORDERS: [&str; 6] = [
    "hooked_customer",
    "record_pre_validate",
    "record_post_validate",
    "record_pre_process",
    "record_post_process",
    "record_processing_error",
];

const BROKEN: [&str; 10] = [
    "broken_err_pre_validate",
    "broken_panic_pre_validate",
    "broken_err_post_validate",
    "broken_panic_post_validate",
    "broken_err_pre_process",
    "broken_panic_pre_process",
    "broken_err_post_process",
    "broken_panic_post_process",
    "broken_err_processing_error",
    "broken_panic_processing_error",
];

fn engine(db: &TestDatabase, names: &[&str]) -> Engine {
    let config = EngineConfig { handlers: HandlerSet::only(names.iter().copied()), ..Default::default() };
    Engine::new(db.database().clone(), config).unwrap()
}

/// What the four deliveries of the scenario came to, and what the recording hooks saw.
#[derive(Debug, PartialEq)]
struct Scenario {
    answers: Vec<(Outcome, u16, usize)>,
    seen: Vec<Vec<(&'static str, String)>>,
    stored: Vec<bool>,
}

/// A processed event, its duplicate, a failing handler, an invalid signature, against an engine
/// running `names`; every detail that differs between runs (ids) is replaced by a placeholder.
fn scenario(backend: Backend, names: &[&str]) -> Scenario {
    let db = TestDatabase::new(backend);
    let ep = endpoint(&db);
    let engine = engine(&db, names);
    let uuid = ep.djstripe_uuid.as_str();
    let (ok, failing, forged) = (event_id(), event_id(), event_id());
    let ok_body = event_body(&ok, "customer.created", json!({}));
    let failing_body = event_body(&failing, "customer.updated", json!({"fail": "yes"}));
    let forged_body = event_body(&forged, "customer.deleted", json!({}));

    let receipts: Vec<Receipt> = [
        engine.receive(&delivery(uuid, &ok_body, Some(&sign(SECRET, &ok_body)))).unwrap(),
        engine.receive(&delivery(uuid, &ok_body, Some(&sign(SECRET, &ok_body)))).unwrap(),
        engine.receive(&delivery(uuid, &failing_body, Some(&sign(SECRET, &failing_body)))).unwrap(),
        engine.receive(&delivery(uuid, &forged_body, Some(&sign("whsec_wrong", &forged_body)))).unwrap(),
    ]
    .into();
    let placeholders = |text: String| {
        let mut text = text.replace(&format!("endpoint=Some({})", ep.id), "endpoint=EP");
        for body in [&ok_body, &failing_body, &forged_body] {
            text = text.replace(&format!("body={}B", body.len()), "body=full");
        }
        for (n, receipt) in receipts.iter().enumerate() {
            text = text.replace(&format!("trigger={}", receipt.trigger_id), &format!("trigger=T{n}"));
            text = text.replace(&format!("trigger=Some({})", receipt.trigger_id), &format!("trigger=T{n}"));
        }
        text
    };
    let seen = [&ok, &failing, &forged]
        .iter()
        .map(|id| seen(id).into_iter().map(|(stage, detail)| (stage, placeholders(detail))).collect())
        .collect();
    Scenario {
        answers: receipts.iter().map(|r| (r.outcome, r.http_status(), r.handlers)).collect(),
        seen,
        stored: [&ok, &failing, &forged].iter().map(|id| db.event(id).is_ok()).collect(),
    }
}

/// Every stage in order, with the right arguments: a processed event, its duplicate, a failing
/// handler (the error stage instead of post_process), an invalid signature (validation only).
fn stages_in_order_with_their_arguments(backend: Backend) {
    let run = scenario(backend, &RECORDERS);
    assert_eq!(
        run.answers,
        [
            (Outcome::Processed, 200, 1),
            (Outcome::Duplicate, 200, 0),
            (Outcome::Failed, 500, 0),
            (Outcome::Invalid, 400, 0)
        ]
    );
    assert_eq!(run.stored, [true, false, false]);
    let trigger = "endpoint=EP ip=127.0.0.1 body=full";
    let [ok, failing, forged] = <[_; 3]>::try_from(run.seen).unwrap();
    let stages = |seen: &[(&'static str, String)]| seen.iter().map(|(s, _)| *s).collect::<Vec<_>>();
    // The processed event, then its duplicate: the handler runs once, between the processing hooks.
    assert_eq!(
        stages(&ok),
        [
            "pre_validate",
            "post_validate",
            "pre_process",
            "handler",
            "post_process",
            "pre_validate",
            "post_validate",
            "pre_process",
            "post_process",
        ],
        "{ok:#?}"
    );
    for (stage, detail) in &ok {
        if *stage != "handler" {
            assert!(detail.starts_with(trigger) && detail.contains("reprocess_of=None"), "{stage}: {detail}");
        }
    }
    assert!(ok[1].1.ends_with("valid customer.created"), "{:?}", ok[1]);
    assert!(ok[2].1.ends_with(" Delivery"), "{:?}", ok[2]);
    assert!(ok[4].1.ends_with("Delivery processed trigger=T0 handlers=1"), "{:?}", ok[4]);
    assert!(ok[8].1.ends_with("Delivery duplicate trigger=T1 handlers=0"), "{:?}", ok[8]);
    // The failing handler: the error stage, with the error and the trigger row, no post_process.
    assert_eq!(stages(&failing), ["pre_validate", "post_validate", "pre_process", "handler", "processing_error"]);
    assert!(
        failing[4].1.ends_with("Delivery trigger=T2 handler hooked_customer metadata.fail is yes"),
        "{:?}",
        failing[4]
    );
    // The forged delivery: validated and rejected, nothing processed.
    assert_eq!(stages(&forged), ["pre_validate", "post_validate"]);
    assert!(forged[1].1.starts_with(trigger) && forged[1].1.ends_with("invalid 400"), "{:?}", forged[1]);
}

/// `pre_process` runs before the event's transaction, `post_process` and `processing_error` after
/// it ended: what another connection sees then is the committed state (the event stored and its
/// trigger row, or, after a handler failure, the trigger row only).
fn processing_hooks_run_outside_the_transaction(backend: Backend) {
    let db = TestDatabase::new(backend);
    let ep = endpoint(&db);
    let engine = engine(&db, &["hooked_customer", "committed_yet_pre", "committed_yet_post", "committed_yet_error"]);
    let (ok, failing) = (event_id(), event_id());
    for id in [&ok, &failing] {
        LOOK_INTO.lock().unwrap().get_or_insert_with(HashMap::new).insert(id.clone(), db.database().clone());
    }
    for (id, metadata) in [(&ok, json!({})), (&failing, json!({"fail": "yes"}))] {
        let body = event_body(id, "customer.created", metadata);
        engine.receive(&delivery(&ep.djstripe_uuid, &body, Some(&sign(SECRET, &body)))).unwrap();
    }
    let looked =
        |id: &str| seen(id).into_iter().filter(|(s, _)| *s == "committed_yet").map(|(_, d)| d).collect::<Vec<_>>();
    assert_eq!(looked(&ok), ["event=false trigger=false", "event=true trigger=true"]);
    assert_eq!(looked(&failing), ["event=false trigger=false", "event=false trigger=true"]);
    // Let the throwaway database go (its pool with it).
    LOOK_INTO.lock().unwrap().get_or_insert_with(HashMap::new).retain(|id, _| id != &ok && id != &failing);
}

/// Hooks that fail or panic at every stage change no answer, no stored event, and stop no other
/// hook: the same run as without them.
fn failing_and_panicking_hooks_change_nothing(backend: Backend) {
    let names: Vec<&str> = RECORDERS.iter().chain(&BROKEN).copied().collect();
    let with_broken = scenario(backend, &names);
    let without = scenario(backend, &RECORDERS);
    assert_eq!(with_broken, without);
    assert_eq!(with_broken.answers[0], (Outcome::Processed, 200, 1));
}

/// Not selected, not run: an engine whose `HandlerSet` names no hook runs none, while another
/// engine of the same binary runs its own.
fn hooks_are_selected_like_handlers(backend: Backend) {
    let db = TestDatabase::new(backend);
    let ep = endpoint(&db);
    let engine = engine(&db, &["hooked_customer"]);
    let id = event_id();
    let body = event_body(&id, "customer.created", json!({}));
    let receipt = engine.receive(&delivery(&ep.djstripe_uuid, &body, Some(&sign(SECRET, &body)))).unwrap();
    assert_eq!(receipt.outcome, Outcome::Processed);
    assert_eq!(stages(&id), ["handler"]);
    assert!(HandlerSet::only(["record_post_process", "hooks::record_pre_validate"]).check().is_ok());
    let err = HandlerSet::only(["record_post_proces"]).check().unwrap_err().to_string();
    assert!(err.contains("no handler `record_post_proces` is registered, nor a hook"), "{err}");
    assert!(err.contains("hooks::record_post_process"), "the listing names the hooks: {err}");
}

/// An operator's reprocess of a failed trigger and replay of a stored event run the processing
/// hooks with their cause (and no validation hook: nothing is validated).
fn reprocess_and_replay_run_processing_hooks(backend: Backend) {
    let db = TestDatabase::new(backend);
    let ep = endpoint(&db);
    let engine = engine(&db, &RECORDERS);
    let id = event_id();
    let body = event_body(&id, "customer.created", json!({"fail": "yes"}));
    let failed = engine.receive(&delivery(&ep.djstripe_uuid, &body, Some(&sign(SECRET, &body)))).unwrap();
    assert_eq!(failed.outcome, Outcome::Failed);
    LOG.lock().unwrap().retain(|s| s.event != id);

    // Still failing: the error stage, naming the retried trigger.
    let again = engine.process_trigger(failed.trigger_id).unwrap();
    assert_eq!(again.outcome, Outcome::Failed);
    let seen_now = seen(&id);
    assert_eq!(stages(&id), ["pre_process", "handler", "processing_error"], "{seen_now:#?}");
    let cause = format!("Reprocess {{ trigger_id: {} }}", failed.trigger_id);
    let reprocess_of = format!("reprocess_of=Some({})", failed.trigger_id);
    assert!(seen_now[0].1.contains(&cause) && seen_now[0].1.contains(&reprocess_of), "{:?}", seen_now[0]);
    assert!(seen_now[2].1.contains(&format!("trigger=Some({})", again.trigger_id)), "{:?}", seen_now[2]);

    // A stored event replayed.
    let ok = event_id();
    let body = event_body(&ok, "customer.created", json!({}));
    engine.receive(&delivery(&ep.djstripe_uuid, &body, Some(&sign(SECRET, &body)))).unwrap();
    LOG.lock().unwrap().retain(|s| s.event != ok);
    let replayed = engine.replay_event(&ok).unwrap();
    assert_eq!(replayed.outcome, Outcome::Replayed);
    let seen_now = seen(&ok);
    assert_eq!(stages(&ok), ["pre_process", "handler", "post_process"], "{seen_now:#?}");
    assert!(
        seen_now[0].1.starts_with("endpoint=None ip=replay") && seen_now[0].1.ends_with(" Replay"),
        "{:?}",
        seen_now[0]
    );
    assert!(seen_now[2].1.ends_with(&format!("Replay replayed trigger={} handlers=1", replayed.trigger_id)));
}

/// Inbox mode: the delivery runs the validation hooks and is answered; the worker runs the
/// processing hooks around each attempt (cause `Inbox`, with the attempt), a failing one ending
/// in `processing_error`, the one that commits in `post_process`; failing and panicking hooks
/// change neither the answer nor what the worker does.
fn inbox_workers_run_the_processing_hooks(backend: Backend) {
    let db = TestDatabase::new(backend);
    let ep = endpoint(&db);
    let inbox =
        InboxConfig { max_attempts: 3, backoff: Backoff::new(Duration::ZERO, Duration::ZERO), ..Default::default() };
    let config = EngineConfig {
        processing: Processing::Inbox,
        inbox,
        // The broken hooks too: they change nothing here either.
        handlers: HandlerSet::only(RECORDERS.iter().chain(&BROKEN).copied()),
        ..Default::default()
    };
    let engine = Engine::new(db.database().clone(), config).unwrap();
    let id = event_id();
    fail_once(&id);
    let body = event_body(&id, "customer.created", json!({}));
    let queued = engine.receive(&delivery(&ep.djstripe_uuid, &body, Some(&sign(SECRET, &body)))).unwrap();
    assert_eq!(queued.outcome, Outcome::Queued);
    assert_eq!(stages(&id), ["pre_validate", "post_validate"], "answered before any processing");

    assert_eq!(engine.process_inbox().unwrap(), [Settled::Retried, Settled::Processed]);
    let seen = seen(&id);
    assert_eq!(
        seen.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        [
            "pre_validate",
            "post_validate",
            "pre_process",
            "handler",
            "processing_error",
            "pre_process",
            "handler",
            "post_process"
        ],
        "{seen:#?}"
    );
    let trigger = queued.trigger_id;
    let first = format!("Inbox {{ trigger_id: {trigger}, attempt: 1 }}");
    let second = format!("Inbox {{ trigger_id: {trigger}, attempt: 2 }}");
    assert!(
        seen[2].1.starts_with(&format!("endpoint=Some({}) ip=127.0.0.1 body={}B", ep.id, body.len())),
        "{:?}",
        seen[2]
    );
    assert!(seen[2].1.ends_with(&first), "{:?}", seen[2]);
    assert!(
        seen[4].1.contains(&format!("{first} trigger=Some({trigger}) handler hooked_customer transient failure"))
            && seen[4].1.ends_with(" (will retry)"),
        "{:?}",
        seen[4]
    );
    assert!(seen[5].1.ends_with(&second), "{:?}", seen[5]);
    assert!(seen[7].1.ends_with(&format!("{second} processed trigger={trigger} handlers=1")), "{:?}", seen[7]);
}

/// Through the app's whole flow (`app::receive`: body read, validation, group commit), as a
/// user's `TestApp` runs it.
fn through_the_app(backend: Backend) {
    let app = TestApp::builder().backend(backend).handlers(HandlerSet::only(RECORDERS)).start();
    let id = event_id();
    let answer = app.send(&EventBuilder::new("customer.created").id(&id));
    assert_eq!(answer.status, 200);
    assert_eq!(stages(&id), ["pre_validate", "post_validate", "pre_process", "handler", "post_process"]);
    let post = &seen(&id)[4].1;
    assert!(post.starts_with(&format!("endpoint=Some({})", app.endpoint().id)), "{post}");
    assert!(post.ends_with(&format!("processed trigger={} handlers=1", answer.trigger_id().unwrap())), "{post}");
}

/// Every log line of this test binary, from every thread (a global subscriber: a scoped one
/// misses lines while other tests log in parallel, and processing hooks log on the writers).
fn captured() -> String {
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    static CAPTURE: std::sync::OnceLock<Buffer> = std::sync::OnceLock::new();
    let buffer = CAPTURE.get_or_init(|| {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber =
            tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).without_time().finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber of this binary");
        buffer
    });
    String::from_utf8_lossy(&buffer.0.lock().unwrap()).into_owned()
}

/// A hook's error or panic is logged, escaped (a newline in its message forges no log line),
/// naming the hook, the stage and the event.
fn hook_errors_are_logged_escaped(backend: Backend) {
    captured();
    let db = TestDatabase::new(backend);
    let ep = endpoint(&db);
    let engine = engine(&db, &["broken_err_post_validate", "broken_panic_pre_validate", "broken_err_pre_process"]);
    let id = event_id();
    let body = event_body(&id, "customer.created", json!({}));
    let header = sign(SECRET, &body);
    // The address is the adapter's, from a header a proxy may pass on: escaped too.
    let from = format!("{id}\nINFO forged by the address");
    let receipt =
        engine.receive(&Delivery { remote_ip: from, ..delivery(&ep.djstripe_uuid, &body, Some(&header)) }).unwrap();
    assert_eq!(receipt.outcome, Outcome::Processed);
    let logged = captured();
    let address = format!("remote_ip={id}\\nINFO forged by the address");
    let lines: Vec<&str> = logged.lines().filter(|l| l.contains("webhook hook") && l.contains(&address)).collect();
    assert_eq!(lines.len(), 3, "{logged}");
    let line = |hook: &str| *lines.iter().find(|l| l.contains(hook)).unwrap_or_else(|| panic!("{hook}: {logged}"));
    let panicked = line("broken_panic_pre_validate");
    assert!(panicked.contains("panicked") && panicked.contains("pre_validate hook panics"), "{panicked}");
    assert!(panicked.starts_with("WARN") || panicked.contains(" WARN "), "{panicked}");
    let failed = line("broken_err_post_validate");
    assert!(failed.contains(r"post_validate hook fails\nINFO forged log line"), "{failed}");
    assert!(failed.contains("post_validate"), "{failed}");
    assert!(line("broken_err_pre_process").contains("pre_process hook fails"));
    assert!(!logged.lines().any(|l| l.starts_with("INFO forged")), "{logged}");
    assert!(lines.iter().all(|l| l.contains(&format!("endpoint={}", ep.id))), "{lines:#?}");
}

both_backends!(
    stages_in_order_with_their_arguments,
    processing_hooks_run_outside_the_transaction,
    failing_and_panicking_hooks_change_nothing,
    hooks_are_selected_like_handlers,
    reprocess_and_replay_run_processing_hooks,
    inbox_workers_run_the_processing_hooks,
    through_the_app,
    hook_errors_are_logged_escaped,
);
