#![allow(missing_docs)]
//! The admin over HTTP, in-process: authentication (none, wrong, right; basic, bearer, login
//! form), CSRF rejection, pagination and filters, secrets never rendered, reprocessing.

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::{App, test};
use base64::Engine as _;
use djstripe_actix::admin::{self, AdminConfig, hash_password};
use djstripe_actix::{Djstripe, Settings};
use djstripe_core::db::NewWebhookEndpoint;
use djstripe_core::testing::EventBuilder;
use djstripe_core::{Event, HandlerError, HandlerResult, webhook_handler};

const SECRET: &str = "whsec_admin_http_test_secret";
const PASSWORD: &str = "correct horse battery staple";
const TOKEN: &str = "a-bearer-token-for-scripts";

#[derive(Debug, thiserror::Error)]
#[error("asked to fail for {0}")]
struct Asked(String);

/// Fails when the customer's `metadata.fail` is `yes` (like the example shop).
#[webhook_handler("customer.updated")]
fn fail_on_request(event: &Event) -> HandlerResult {
    if event.data.object["metadata"]["fail"] == "yes" {
        return Err(HandlerError::from(Asked(event.id.clone())));
    }
    Ok(())
}

struct Fixture {
    _dir: tempfile::TempDir,
    djstripe: Djstripe,
    uuid: String,
    endpoint_id: i64,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let djstripe = Djstripe::start(Settings::new(dir.path().join("admin.sqlite3").to_str().unwrap())).unwrap();
    let mut new = NewWebhookEndpoint::local(SECRET);
    new.description = "test endpoint".into();
    let endpoint = djstripe.engine().database().insert_endpoint(&new).unwrap();
    Fixture { _dir: dir, djstripe, uuid: endpoint.djstripe_uuid, endpoint_id: endpoint.id }
}

fn admin_config() -> AdminConfig {
    AdminConfig::password("ops", &hash_password(PASSWORD)).unwrap().with_token(TOKEN).page_size(3)
}

async fn app(
    f: &Fixture,
) -> impl Service<actix_http::Request, Response = ServiceResponse<impl MessageBody>, Error = actix_web::Error> {
    test::init_service(
        App::new()
            .service(admin::scope("/stripe/admin", f.djstripe.clone(), admin_config()))
            .service(djstripe_actix::scope("/stripe", f.djstripe.clone())),
    )
    .await
}

fn basic(user: &str, password: &str) -> (header::HeaderName, String) {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    (header::AUTHORIZATION, format!("Basic {encoded}"))
}

fn good() -> (header::HeaderName, String) {
    basic("ops", PASSWORD)
}

/// A response header as text.
fn hv(res: &ServiceResponse<impl MessageBody>, name: header::HeaderName) -> String {
    res.headers().get(&name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_else(|| panic!("no {name} header"))
}

async fn body(res: ServiceResponse<impl MessageBody>) -> String {
    String::from_utf8(test::read_body(res).await.to_vec()).unwrap()
}

/// Delivers a signed event to the endpoint; returns the HTTP status.
async fn deliver(
    app: &impl Service<actix_http::Request, Response = ServiceResponse<impl MessageBody>, Error = actix_web::Error>,
    uuid: &str,
    builder: EventBuilder,
) -> StatusCode {
    let signed = builder.signed(SECRET);
    let req = test::TestRequest::post()
        .uri(&format!("/stripe/webhook/{uuid}/"))
        .insert_header(("Stripe-Signature", signed.header))
        .set_payload(signed.body)
        .to_request();
    test::call_service(app, req).await.status()
}

/// The CSRF cookie an admin GET hands out.
async fn csrf_cookie(
    app: &impl Service<actix_http::Request, Response = ServiceResponse<impl MessageBody>, Error = actix_web::Error>,
) -> String {
    let res = test::call_service(app, test::TestRequest::get().uri("/stripe/admin/login").to_request()).await;
    let set = res.headers().get_all(header::SET_COOKIE).map(|v| v.to_str().unwrap().to_owned()).collect::<Vec<_>>();
    let cookie = set.iter().find(|c| c.starts_with("djstripe_admin_csrf=")).expect("a CSRF cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/stripe/admin"));
    cookie.split(';').next().unwrap().trim_start_matches("djstripe_admin_csrf=").to_owned()
}

/// Delivery ids listed on a page, in order.
fn listed(html: &str) -> Vec<i64> {
    html.split("<td><a href=\"/stripe/admin/triggers/")
        .skip(1)
        .map(|rest| rest.split('/').next().unwrap().parse().unwrap())
        .collect()
}

#[actix_rt::test]
async fn no_credential_goes_to_the_login_form_and_cannot_post() {
    let f = fixture();
    let app = app(&f).await;
    let res =
        test::call_service(&app, test::TestRequest::get().uri("/stripe/admin/triggers/?type=x").to_request()).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(hv(&res, header::LOCATION), "/stripe/admin/login?next=/stripe/admin/triggers/%3Ftype%3Dx");
    for uri in ["/stripe/admin/", "/stripe/admin/endpoints/", "/stripe/admin/events/", "/stripe/admin/handlers/"] {
        let res = test::call_service(&app, test::TestRequest::get().uri(uri).to_request()).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{uri}");
    }
    let res =
        test::call_service(&app, test::TestRequest::post().uri("/stripe/admin/endpoints/1/delete").to_request()).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // The login page itself is public, and is a form with labels.
    let res = test::call_service(&app, test::TestRequest::get().uri("/stripe/admin/login").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = body(res).await;
    assert!(html.contains(r#"<label for="password">"#) && html.contains(r#"id="password""#), "{html}");
}

#[actix_rt::test]
async fn wrong_credentials_are_refused() {
    let f = fixture();
    let app = app(&f).await;
    let wrong = [
        basic("ops", "wrong"),
        basic("admin", PASSWORD),
        basic("ops", ""),
        (header::AUTHORIZATION, "Basic !!notbase64".into()),
        (header::AUTHORIZATION, format!("Bearer {TOKEN}x")),
        (header::AUTHORIZATION, "Bearer ".into()),
        (header::AUTHORIZATION, format!("Token {TOKEN}")),
    ];
    for credential in wrong {
        let req =
            test::TestRequest::get().uri("/stripe/admin/triggers/").insert_header(credential.clone()).to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{credential:?}");
        assert!(hv(&res, header::WWW_AUTHENTICATE).starts_with("Basic realm="));
    }
    // A forged or expired session is no login either.
    let req = test::TestRequest::get()
        .uri("/stripe/admin/triggers/")
        .insert_header((header::COOKIE, "djstripe_admin_session=99999999999.00ff"))
        .to_request();
    assert_eq!(test::call_service(&app, req).await.status(), StatusCode::SEE_OTHER);
}

#[actix_rt::test]
async fn right_credentials_are_let_in() {
    let f = fixture();
    let app = app(&f).await;
    for credential in [good(), (header::AUTHORIZATION, format!("Bearer {TOKEN}"))] {
        for uri in [
            "/stripe/admin/triggers/",
            "/stripe/admin/endpoints/",
            "/stripe/admin/events/",
            "/stripe/admin/handlers/",
            "/stripe/admin/endpoints/new",
        ] {
            let req = test::TestRequest::get().uri(uri).insert_header(credential.clone()).to_request();
            let res = test::call_service(&app, req).await;
            assert_eq!(res.status(), StatusCode::OK, "{uri}");
            assert_eq!(hv(&res, header::CACHE_CONTROL), "no-store");
        }
    }
    let req = test::TestRequest::get().uri("/stripe/admin/handlers?x=1").insert_header(good()).to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(hv(&res, header::LOCATION), "/stripe/admin/handlers/?x=1");
    let req = test::TestRequest::get().uri("/stripe/admin/nothing/").insert_header(good()).to_request();
    assert_eq!(test::call_service(&app, req).await.status(), StatusCode::NOT_FOUND);
    let req = test::TestRequest::get().uri("/stripe/admin/").insert_header(good()).to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(hv(&res, header::LOCATION), "/stripe/admin/triggers/");
}

#[actix_rt::test]
async fn the_login_form_sets_a_session_and_logout_ends_it() {
    let f = fixture();
    let app = app(&f).await;
    let csrf = csrf_cookie(&app).await;
    let login = |password: &str, token: &str| {
        test::TestRequest::post()
            .uri("/stripe/admin/login")
            .insert_header((header::COOKIE, format!("djstripe_admin_csrf={csrf}")))
            .set_form([
                ("csrf_token", token),
                ("user", "ops"),
                ("password", password),
                ("next", "/stripe/admin/events/"),
            ])
            .to_request()
    };
    let res = test::call_service(&app, login("wrong", &csrf)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(body(res).await.contains("Wrong user name or password"));
    let res = test::call_service(&app, login(PASSWORD, "forged")).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "login needs the CSRF token too");

    let res = test::call_service(&app, login(PASSWORD, &csrf)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(hv(&res, header::LOCATION), "/stripe/admin/events/");
    let set = hv(&res, header::SET_COOKIE);
    assert!(set.starts_with("djstripe_admin_session=") && set.contains("HttpOnly") && set.contains("SameSite=Strict"));
    let session = set.split(';').next().unwrap().to_owned();
    let cookies = format!("{session}; djstripe_admin_csrf={csrf}");

    let req = test::TestRequest::get()
        .uri("/stripe/admin/events/")
        .insert_header((header::COOKIE, cookies.clone()))
        .to_request();
    assert_eq!(test::call_service(&app, req).await.status(), StatusCode::OK);

    // The token works as the form's password too; an outside `next` is ignored.
    let req = test::TestRequest::post()
        .uri("/stripe/admin/login")
        .insert_header((header::COOKIE, format!("djstripe_admin_csrf={csrf}")))
        .set_form([("csrf_token", csrf.as_str()), ("user", ""), ("password", TOKEN), ("next", "//evil.example/")])
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(hv(&res, header::LOCATION), "/stripe/admin/triggers/");

    let req = test::TestRequest::post()
        .uri("/stripe/admin/logout")
        .insert_header((header::COOKIE, cookies))
        .set_form([("csrf_token", csrf.as_str())])
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(hv(&res, header::SET_COOKIE).contains("Max-Age=0"));
}

#[actix_rt::test]
async fn state_changing_forms_need_the_csrf_token() {
    let f = fixture();
    let app = app(&f).await;
    let csrf = csrf_cookie(&app).await;
    let id = f.endpoint_id;
    let post = |cookie: Option<&str>, field: Option<&str>| {
        let mut req =
            test::TestRequest::post().uri(&format!("/stripe/admin/endpoints/{id}/status")).insert_header(good());
        if let Some(cookie) = cookie {
            req = req.insert_header((header::COOKIE, format!("djstripe_admin_csrf={cookie}")));
        }
        let mut form = vec![("status", "disabled")];
        if let Some(field) = field {
            form.push(("csrf_token", field));
        }
        req.set_form(form).to_request()
    };
    for (cookie, field) in [
        (None, None),
        (None, Some(csrf.as_str())),
        (Some(csrf.as_str()), None),
        (Some(csrf.as_str()), Some("0000")),
        (Some(""), Some("")),
    ] {
        let res = test::call_service(&app, post(cookie, field)).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "cookie {cookie:?} field {field:?}");
        assert!(body(res).await.contains("CSRF"));
    }
    let db = f.djstripe.engine().database();
    assert!(db.endpoints().unwrap()[0].is_enabled(), "nothing changed");
    // GET is never state-changing: the forms' routes do not answer it.
    for uri in [format!("/stripe/admin/endpoints/{id}/delete"), format!("/stripe/admin/endpoints/{id}/delete/")] {
        let req = test::TestRequest::get().uri(&uri).insert_header(good()).to_request();
        assert!(!test::call_service(&app, req).await.status().is_success());
    }
    assert_eq!(db.endpoints().unwrap().len(), 1);

    let res = test::call_service(&app, post(Some(&csrf), Some(&csrf))).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(!db.endpoints().unwrap()[0].is_enabled());
}

#[actix_rt::test]
async fn deliveries_are_paginated_newest_first_and_filtered() {
    let f = fixture();
    let app = app(&f).await;
    for n in 0..4 {
        assert_eq!(
            deliver(&app, &f.uuid, EventBuilder::new("customer.created").id(format!("evt_ok_{n}"))).await,
            StatusCode::OK
        );
    }
    let failing = EventBuilder::new("customer.updated").id("evt_fails").metadata("fail", "yes");
    assert_eq!(deliver(&app, &f.uuid, failing).await, StatusCode::INTERNAL_SERVER_ERROR);
    // A bad signature: an invalid delivery.
    let req = test::TestRequest::post()
        .uri(&format!("/stripe/webhook/{}/", f.uuid))
        .insert_header(("Stripe-Signature", "t=1,v1=00"))
        .set_payload(EventBuilder::new("price.created").to_json())
        .to_request();
    assert_eq!(test::call_service(&app, req).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(deliver(&app, &f.uuid, EventBuilder::new("price.created").id("evt_price")).await, StatusCode::OK);
    // 7 deliveries, ids 1..=7, page size 3.

    let get = |uri: String| test::TestRequest::get().uri(&uri).insert_header(good()).to_request();
    let page1 = body(test::call_service(&app, get("/stripe/admin/triggers/".into())).await).await;
    assert_eq!(listed(&page1), vec![7, 6, 5]);
    assert!(page1.contains("page=2") && !page1.contains("rel=\"prev\""));
    let page3 = body(test::call_service(&app, get("/stripe/admin/triggers/?page=3".into())).await).await;
    assert_eq!(listed(&page3), vec![1]);
    assert!(!page3.contains("rel=\"next\"") && page3.contains("page=2"));
    let beyond = body(test::call_service(&app, get("/stripe/admin/triggers/?page=9".into())).await).await;
    assert!(listed(&beyond).is_empty() && beyond.contains("No triggers match"));

    let ids = |q: &'static str| {
        let app = &app;
        async move { listed(&body(test::call_service(app, get(format!("/stripe/admin/triggers/?{q}"))).await).await) }
    };
    assert_eq!(ids("valid=no").await, vec![6]);
    assert_eq!(ids("failed=yes").await, vec![5]);
    assert_eq!(ids("processed=no&valid=yes").await, vec![5]);
    assert_eq!(ids("type=price.created").await, vec![7]);
    assert_eq!(ids("type=customer.created&page=2").await, vec![1]);
    assert_eq!(
        ids(if f.endpoint_id == 1 { "endpoint=1&valid=yes&type=customer.updated" } else { unreachable!() }).await,
        vec![5]
    );
    assert_eq!(ids("endpoint=999").await, Vec::<i64>::new());
    // Filters survive pagination.
    let filtered =
        body(test::call_service(&app, get("/stripe/admin/triggers/?type=customer.created".into())).await).await;
    assert!(filtered.contains("type=customer.created&amp;page=2"), "{filtered}");
    // A bad filter value is a clear 400.
    let res = test::call_service(&app, get("/stripe/admin/triggers/?valid=maybe".into())).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(body(res).await.contains("`maybe` is not a value of valid"));
}

#[actix_rt::test]
async fn a_failed_delivery_shows_its_error_and_can_be_reprocessed() {
    let f = fixture();
    let app = app(&f).await;
    let csrf = csrf_cookie(&app).await;
    let failing = EventBuilder::new("customer.updated").id("evt_fail_once").metadata("fail", "yes");
    assert_eq!(deliver(&app, &f.uuid, failing).await, StatusCode::INTERNAL_SERVER_ERROR);
    let req = test::TestRequest::get().uri("/stripe/admin/triggers/1/").insert_header(good()).to_request();
    let html = body(test::call_service(&app, req).await).await;
    assert!(html.contains("asked to fail for evt_fail_once"), "{html}");
    assert!(
        html.contains("id=\"reprocess\"") && html.contains("&quot;fail&quot;: &quot;yes&quot;"),
        "pretty, escaped body"
    );

    let req = test::TestRequest::post()
        .uri("/stripe/admin/triggers/1/reprocess")
        .insert_header(good())
        .insert_header((header::COOKIE, format!("djstripe_admin_csrf={csrf}")))
        .set_form([("csrf_token", csrf.as_str())])
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(hv(&res, header::LOCATION), "/stripe/admin/triggers/2/?done=reprocessed");
    let req =
        test::TestRequest::get().uri("/stripe/admin/triggers/2/?done=reprocessed").insert_header(good()).to_request();
    let html = body(test::call_service(&app, req).await).await;
    assert!(html.contains("Reprocessed: this is the new attempt") && html.contains(">failed</span>"), "{html}");
    assert!(html.contains("href=\"/stripe/admin/triggers/1/\""), "links to the original");
    let req = test::TestRequest::get().uri("/stripe/admin/triggers/1/").insert_header(good()).to_request();
    assert!(body(test::call_service(&app, req).await).await.contains("Reprocessing attempts"));

    let req = test::TestRequest::get().uri("/stripe/admin/triggers/99/").insert_header(good()).to_request();
    assert_eq!(test::call_service(&app, req).await.status(), StatusCode::NOT_FOUND);
}

#[actix_rt::test]
async fn events_handlers_and_endpoints_pages() {
    let f = fixture();
    let app = app(&f).await;
    assert_eq!(deliver(&app, &f.uuid, EventBuilder::new("customer.updated").id("evt_shown")).await, StatusCode::OK);
    assert_eq!(deliver(&app, &f.uuid, EventBuilder::new("price.created").id("evt_other")).await, StatusCode::OK);
    let get = |uri: &str| test::TestRequest::get().uri(uri).insert_header(good()).to_request();

    let list = body(test::call_service(&app, get("/stripe/admin/events/?type=customer.updated")).await).await;
    assert!(list.contains("evt_shown") && !list.contains("evt_other"));
    let event = body(test::call_service(&app, get("/stripe/admin/events/evt_shown/")).await).await;
    assert!(event.contains("admin_http::fail_on_request"), "the matching handler: {event}");
    assert!(event.contains("\n  &quot;id&quot;: &quot;evt_shown&quot;"), "pretty JSON");
    let other = body(test::call_service(&app, get("/stripe/admin/events/evt_other/")).await).await;
    assert!(other.contains("No handler matches this type"));
    assert_eq!(test::call_service(&app, get("/stripe/admin/events/evt_nope/")).await.status(), StatusCode::NOT_FOUND);

    let handlers = body(test::call_service(&app, get("/stripe/admin/handlers/")).await).await;
    assert!(handlers.contains("admin_http::fail_on_request") && handlers.contains("customer.updated"));
    assert!(handlers.contains("admin_http.rs:"), "file:line");

    let endpoints = body(test::call_service(&app, get("/stripe/admin/endpoints/")).await).await;
    assert!(endpoints.contains("test endpoint") && endpoints.contains("set (never shown)"));
    assert!(!endpoints.contains(SECRET) && !endpoints.contains("whsec_admin"), "secrets are never rendered");
}

#[actix_rt::test]
async fn secrets_are_rotated_and_dropped_without_being_shown() {
    let f = fixture();
    let app = app(&f).await;
    let csrf = csrf_cookie(&app).await;
    let post = |uri: String, form: Vec<(&'static str, String)>| {
        let mut form = form;
        form.push(("csrf_token", csrf.clone()));
        test::TestRequest::post()
            .uri(&uri)
            .insert_header(good())
            .insert_header((header::COOKIE, format!("djstripe_admin_csrf={csrf}")))
            .set_form(form)
            .to_request()
    };
    let id = f.endpoint_id;
    let res = test::call_service(
        &app,
        post(format!("/stripe/admin/endpoints/{id}/secrets"), vec![("secret", "nope".into())]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let new_secret = "whsec_rotated_secret_value";
    let res = test::call_service(
        &app,
        post(
            format!("/stripe/admin/endpoints/{id}/secrets"),
            vec![("secret", new_secret.into()), ("keep_hours", "2".into())],
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let endpoint = f.djstripe.engine().database().endpoints().unwrap().remove(0);
    assert_eq!(endpoint.valid_secrets(chrono::Utc::now().timestamp()), vec![new_secret.to_owned(), SECRET.to_owned()]);
    let req = test::TestRequest::get().uri("/stripe/admin/endpoints/").insert_header(good()).to_request();
    let html = body(test::call_service(&app, req).await).await;
    assert!(html.contains("1 previous still valid") && !html.contains("whsec_rotated") && !html.contains(SECRET));

    let res = test::call_service(
        &app,
        post(format!("/stripe/admin/endpoints/{id}/secrets/drop"), vec![("index", "0".into())]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let endpoint = f.djstripe.engine().database().endpoints().unwrap().remove(0);
    assert_eq!(endpoint.valid_secrets(chrono::Utc::now().timestamp()), vec![new_secret.to_owned()]);
}

#[actix_rt::test]
async fn the_add_form_refuses_what_stripe_would_refuse() {
    let f = fixture();
    let app = app(&f).await;
    let csrf = csrf_cookie(&app).await;
    let req = test::TestRequest::get()
        .uri("/stripe/admin/endpoints/new")
        .insert_header(good())
        .insert_header((header::HOST, "shop.example.com"))
        .to_request();
    let html = body(test::call_service(&app, req).await).await;
    assert!(html.contains(r#"value="http://shop.example.com""#), "base URL prefilled from the host: {html}");
    assert!(html.contains(r#"<label for="base_url">"#) && html.contains(r#"<label for="enabled_events">"#));
    for (mode, base, needle) in [
        // The same messages as `shop endpoints create` (djstripe_core::endpoints::check_base_url).
        ("test", "http://localhost:8000", "is this machine, which Stripe cannot reach"),
        ("live", "http://shop.example.com", "live-mode endpoints must use https"),
        ("test", "https://192.168.0.10", "is a private address"),
    ] {
        let req = test::TestRequest::post()
            .uri("/stripe/admin/endpoints/")
            .insert_header(good())
            .insert_header((header::COOKIE, format!("djstripe_admin_csrf={csrf}")))
            .set_form([("csrf_token", csrf.as_str()), ("mode", mode), ("base_url", base), ("enabled_events", "*")])
            .to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = body(res).await;
        assert!(html.contains(needle) && html.contains(&format!("value=\"{base}\"")), "{needle}: {html}");
    }
    assert_eq!(f.djstripe.engine().database().endpoints().unwrap().len(), 1, "nothing created");
}

#[actix_rt::test]
async fn off_unless_configured() {
    assert!(AdminConfig::from_lookup(|_| None).unwrap().is_none());
    let err = AdminConfig::from_lookup(|n| (n == "DJSTRIPE_ADMIN_TOKEN").then(|| "short".to_owned())).unwrap_err();
    assert!(err.to_string().contains("DJSTRIPE_ADMIN_TOKEN"));
    let err = AdminConfig::from_lookup(|n| (n == "DJSTRIPE_ADMIN_PASSWORD_HASH").then(|| "plaintext".to_owned()))
        .unwrap_err();
    assert!(err.to_string().contains("DJSTRIPE_ADMIN_PASSWORD_HASH"));
    // Without the admin scope, its paths are nobody's.
    let f = fixture();
    let app = test::init_service(App::new().service(djstripe_actix::scope("/stripe", f.djstripe.clone()))).await;
    let req = test::TestRequest::get().uri("/stripe/admin/triggers/").insert_header(good()).to_request();
    assert_eq!(test::call_service(&app, req).await.status(), StatusCode::NOT_FOUND);
}
