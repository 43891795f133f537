//! The admin's HTTP test suite, the same for every web adapter (feature `testing`): each check
//! starts the adapter's server on `127.0.0.1` (port 0) with a fresh SQLite database and talks to
//! it over real HTTP (`ureq`, no redirects followed, no cookie jar): authentication (none,
//! wrong, right; basic, bearer, login form; the database's users; the bound on concurrent
//! password verifications), CSRF rejection, pagination and filters, secrets
//! never rendered, reprocessing.
//!
//! An adapter's `tests/admin_http.rs` gives a [`Serve`] function and invokes
//! [`admin_suite!`](crate::admin_suite), which defines the suite's handler and one `#[test]` per
//! check:
//!
//! ```ignore
//! fn serve(djstripe: Djstripe, admin: Option<AdminConfig>) -> std::net::SocketAddr {
//!     // webhook routes at /stripe, the admin (when Some) at /stripe/admin, served in a thread
//! }
//! djstripe_admin::admin_suite!(serve);
//! ```

use std::net::SocketAddr;

use base64::Engine as _;
use djstripe_core::app::{Djstripe, Settings};
use djstripe_core::db::{Backend, NewWebhookEndpoint};
use djstripe_core::testing::{EventBuilder, TestDatabase};
use djstripe_core::{Event, HandlerError, HandlerResult};

use crate::{AdminConfig, hash_password};

/// What an adapter gives the suite: serves `djstripe`'s webhook routes at `/stripe` and, when
/// `admin` is `Some`, the admin pages at `/stripe/admin` (mounted the way an app would), on
/// `127.0.0.1:0` in the background; returns the bound address once it accepts connections.
pub type Serve = fn(Djstripe, Option<AdminConfig>) -> SocketAddr;

/// Defines, in the calling test crate (whose file must be `tests/admin_http.rs`: the suite looks
/// for its handler as `admin_http::fail_on_request`), the suite's `#[webhook_handler]` and one
/// `#[test]` per check of [`crate::testing`], each run against the server `serve` starts. The
/// calling crate depends on `djstripe-core` (the handler is `#[djstripe_core::webhook_handler]`).
#[macro_export]
macro_rules! admin_suite {
    ($serve:expr) => {
        /// Fails when the customer's `metadata.fail` is `yes` (like the example shop).
        #[::djstripe_core::webhook_handler("customer.updated")]
        fn fail_on_request(event: &::djstripe_core::Event) -> ::djstripe_core::HandlerResult {
            $crate::testing::fail_when_asked(event)
        }

        $crate::admin_suite!(@checks $serve;
            no_credential_goes_to_the_login_form_and_cannot_post,
            wrong_credentials_are_refused,
            right_credentials_are_let_in,
            the_login_form_sets_a_session_and_logout_ends_it,
            state_changing_forms_need_the_csrf_token,
            failed_logins_of_all_clients_pause_every_login,
            secure_cookies_follow_trusted_proxies_and_the_setting,
            every_answer_has_the_security_headers,
            triggers_are_paginated_newest_first_and_filtered,
            a_failed_trigger_shows_its_error_and_can_be_reprocessed,
            events_handlers_and_endpoints_pages,
            secrets_are_rotated_and_dropped_without_being_shown,
            the_add_form_refuses_what_stripe_would_refuse,
            off_unless_configured,
            database_users_log_in_and_a_new_password_ends_their_sessions,
            a_login_flood_is_answered_429_beyond_the_verification_limit,
            failed_logins_lock_the_client_address_for_a_minute,
            rejected_deliveries_not_stored_are_counted_on_the_triggers_page,
            endpoints_are_created_and_switched_at_stripe_like_the_cli,
            v2_events_and_the_fetch_flag_are_shown,
            the_inbox_page_shows_dead_letters_and_retries_them,
        );
    };
    (@checks $serve:expr; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                $crate::testing::$check($serve);
            }
        )*
    };
}

const SECRET: &str = "whsec_admin_http_test_secret";
const PASSWORD: &str = "correct horse battery staple";
const TOKEN: &str = "a-bearer-token-for-scripts";

/// The handler failed because the event asked it to.
#[derive(Debug)]
pub struct Asked(String);

impl std::fmt::Display for Asked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "asked to fail for {}", self.0)
    }
}

impl std::error::Error for Asked {}

/// The body of the suite's handler: fails when the customer's `metadata.fail` is `yes`.
///
/// # Errors
/// [`Asked`] when the event asks for it.
pub fn fail_when_asked(event: &Event) -> HandlerResult {
    if event.data.object["metadata"]["fail"] == "yes" {
        return Err(HandlerError::from(Asked(event.id.clone())));
    }
    Ok(())
}

/// One server with its own database and one local endpoint.
struct Site {
    _db: TestDatabase,
    djstripe: Djstripe,
    base: String,
    uuid: String,
    endpoint_id: i64,
}

fn site_with(serve: Serve, admin: Option<AdminConfig>) -> Site {
    site_with_settings(serve, admin, |settings| settings)
}

fn site_with_settings(serve: Serve, admin: Option<AdminConfig>, settings: impl FnOnce(Settings) -> Settings) -> Site {
    let db = TestDatabase::new(Backend::Sqlite);
    let djstripe = Djstripe::start(settings(Settings::new(db.url()))).unwrap();
    let mut new = NewWebhookEndpoint::local(SECRET);
    new.description = "test endpoint".into();
    let endpoint = djstripe.engine().database().insert_endpoint(&new).unwrap();
    let addr = serve(djstripe.clone(), admin);
    Site { _db: db, djstripe, base: format!("http://{addr}"), uuid: endpoint.djstripe_uuid, endpoint_id: endpoint.id }
}

fn site(serve: Serve) -> Site {
    site_with(
        serve,
        Some(AdminConfig::password("ops", &hash_password(PASSWORD)).unwrap().with_token(TOKEN).page_size(3)),
    )
}

/// An answer: status, headers (names in lower case), body.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    /// A header's first value; panics when there is none.
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} header"))
    }

    fn set_cookies(&self) -> Vec<&str> {
        self.headers.iter().filter(|(k, _)| k == "set-cookie").map(|(_, v)| v.as_str()).collect()
    }
}

type Headers<'a> = &'a [(&'a str, String)];

impl Site {
    fn call(&self, method: &str, path: &str, headers: Headers<'_>, body: Option<Vec<u8>>) -> Reply {
        // A fresh agent each time: no cookie is ever sent that the check did not set.
        let agent: ureq::Agent =
            ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
        let mut request = ureq::http::Request::builder().method(method).uri(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        let mut response = match body {
            Some(body) => agent.run(request.body(body).unwrap()),
            None => agent.run(request.body(()).unwrap()),
        }
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let headers =
            response.headers().iter().map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned())).collect();
        let body = response.body_mut().read_to_string().unwrap();
        Reply { status: response.status().as_u16(), headers, body }
    }

    fn get(&self, path: &str, headers: Headers<'_>) -> Reply {
        self.call("GET", path, headers, None)
    }

    /// A urlencoded form POST.
    fn post(&self, path: &str, headers: Headers<'_>, form: &[(&str, &str)]) -> Reply {
        let mut headers = headers.to_vec();
        headers.push(("content-type", "application/x-www-form-urlencoded".into()));
        self.call("POST", path, &headers, Some(serde_urlencoded::to_string(form).unwrap().into_bytes()))
    }

    /// Delivers a signed event to the endpoint; returns the HTTP status.
    fn deliver(&self, builder: EventBuilder) -> u16 {
        let signed = builder.signed(SECRET);
        let headers = [("stripe-signature", signed.header)];
        self.call("POST", &format!("/stripe/webhook/{}/", self.uuid), &headers, Some(signed.body)).status
    }

    /// The status of a POST whose `Content-Length` announces more than [`crate::MAX_FORM_BODY`]
    /// but which sends only its first bytes (over a raw connection: a client would still be
    /// writing when the server answers and closes).
    fn status_of_announced_body(&self, path: &str, cookie: &str) -> u16 {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(self.base.trim_start_matches("http://")).unwrap();
        stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        let (name, credential) = good();
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: localhost\r\n{name}: {credential}\r\ncookie: {cookie}\r\n\
             content-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\n\r\nstatus=dis",
            crate::MAX_FORM_BODY + 1
        );
        stream.write_all(head.as_bytes()).unwrap();
        let mut answer = Vec::new();
        let mut buf = [0u8; 512];
        while !answer.windows(2).any(|w| w == b"\r\n") {
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0, "closed without an answer");
            answer.extend_from_slice(&buf[..n]);
        }
        let line = String::from_utf8_lossy(&answer);
        line.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or_else(|| panic!("not HTTP: {line}"))
    }

    /// The CSRF token the forms of a page carry for the credential in `headers` (bound to its
    /// session or HTTP basic credential).
    fn form_token(&self, headers: Headers<'_>) -> String {
        let page = self.get("/stripe/admin/handlers/", headers);
        assert_eq!(page.status, 200, "{}", page.body);
        let field = page.body.split(r#"name="csrf_token" value=""#).nth(1).expect("a form with a CSRF token");
        field.split('"').next().unwrap().to_owned()
    }

    /// The CSRF cookie an admin GET hands out (the login form's, before there is a session).
    fn csrf_cookie(&self) -> String {
        let reply = self.get("/stripe/admin/login", &[]);
        let cookies = reply.set_cookies();
        let cookie = cookies.iter().find(|c| c.starts_with("djstripe_admin_csrf=")).expect("a CSRF cookie");
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/stripe/admin")
        );
        cookie.split(';').next().unwrap().trim_start_matches("djstripe_admin_csrf=").to_owned()
    }
}

fn basic(user: &str, password: &str) -> (&'static str, String) {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    ("authorization", format!("Basic {encoded}"))
}

fn good() -> (&'static str, String) {
    basic("ops", PASSWORD)
}

fn csrf(token: &str) -> (&'static str, String) {
    ("cookie", format!("djstripe_admin_csrf={token}"))
}

/// Trigger ids listed on a page, in order.
fn listed(html: &str) -> Vec<i64> {
    html.split("<td><a href=\"/stripe/admin/triggers/")
        .skip(1)
        .map(|rest| rest.split('/').next().unwrap().parse().unwrap())
        .collect()
}

/// An anonymous browser is sent to the login form; an anonymous POST is refused.
pub fn no_credential_goes_to_the_login_form_and_cannot_post(serve: Serve) {
    let s = site(serve);
    let reply = s.get("/stripe/admin/triggers/?type=x", &[]);
    assert_eq!(reply.status, 303);
    assert_eq!(reply.header("location"), "/stripe/admin/login?next=/stripe/admin/triggers/%3Ftype%3Dx");
    for uri in [
        "/stripe/admin",
        "/stripe/admin/",
        "/stripe/admin/endpoints/",
        "/stripe/admin/events/",
        "/stripe/admin/handlers/",
    ] {
        assert_eq!(s.get(uri, &[]).status, 303, "{uri}");
    }
    assert_eq!(s.call("POST", "/stripe/admin/endpoints/1/delete", &[], None).status, 401);
    // The login page itself is public, and is a form with labels.
    let reply = s.get("/stripe/admin/login", &[]);
    assert_eq!(reply.status, 200);
    assert!(
        reply.body.contains(r#"<label for="password">"#) && reply.body.contains(r#"id="password""#),
        "{}",
        reply.body
    );
}

/// Wrong passwords, users, tokens and schemes are 401; a forged session is no login.
pub fn wrong_credentials_are_refused(serve: Serve) {
    let s = site(serve);
    let wrong = [
        basic("ops", "wrong"),
        basic("admin", PASSWORD),
        basic("ops", ""),
        ("authorization", "Basic !!notbase64".into()),
        ("authorization", format!("Bearer {TOKEN}x")),
        ("authorization", "Bearer ".into()),
        ("authorization", format!("Token {TOKEN}")),
    ];
    for credential in wrong {
        let reply = s.get("/stripe/admin/triggers/", std::slice::from_ref(&credential));
        assert_eq!(reply.status, 401, "{credential:?}");
        assert!(reply.header("www-authenticate").starts_with("Basic realm="));
    }
    // A forged or expired session is no login either.
    let forged = [("cookie", "djstripe_admin_session=99999999999.00ff".to_owned())];
    assert_eq!(s.get("/stripe/admin/triggers/", &forged).status, 303);
}

/// HTTP basic and bearer open every page; a missing slash is a 308, an unknown page a 404.
pub fn right_credentials_are_let_in(serve: Serve) {
    let s = site(serve);
    for credential in [good(), ("authorization", format!("Bearer {TOKEN}"))] {
        for uri in [
            "/stripe/admin/triggers/",
            "/stripe/admin/endpoints/",
            "/stripe/admin/events/",
            "/stripe/admin/handlers/",
            "/stripe/admin/endpoints/new",
        ] {
            let reply = s.get(uri, std::slice::from_ref(&credential));
            assert_eq!(reply.status, 200, "{uri}");
            assert_eq!(reply.header("cache-control"), "no-store");
            assert_eq!(reply.header("x-frame-options"), "DENY");
            assert_eq!(reply.header("content-type"), "text/html; charset=utf-8");
        }
    }
    let head = s.call("HEAD", "/stripe/admin/triggers/", &[good()], None);
    assert_eq!((head.status, head.body.as_str()), (200, ""), "HEAD is answered like GET, without the body");
    let put = s.call("PUT", "/stripe/admin/triggers/", &[good()], Some(Vec::new()));
    assert_eq!((put.status, put.header("allow")), (405, "GET, HEAD"));
    let reply = s.get("/stripe/admin/handlers?x=1", &[good()]);
    assert_eq!(reply.status, 308);
    assert_eq!(reply.header("location"), "/stripe/admin/handlers/?x=1");
    let reply = s.get("/stripe/admin/nothing/", &[good()]);
    assert_eq!(reply.status, 404);
    assert!(reply.body.contains("Not found.") && reply.body.contains("<html"), "an HTML error page: {}", reply.body);
    assert_eq!(s.get("/stripe/admin/triggers/abc/", &[good()]).status, 404, "an id that is not one");
    for uri in ["/stripe/admin/", "/stripe/admin"] {
        assert_eq!(s.get(uri, &[good()]).header("location"), "/stripe/admin/triggers/", "{uri}");
    }
}

/// The login form (with its CSRF token) opens a session; logout ends it (issue 15, 3: the
/// cookie still worked after logout, and was the same for every login in one second).
pub fn the_login_form_sets_a_session_and_logout_ends_it(serve: Serve) {
    let s = site(serve);
    let token = s.csrf_cookie();
    let login = |password: &str, field: &str| {
        let form = [("csrf_token", field), ("user", "ops"), ("password", password), ("next", "/stripe/admin/events/")];
        s.post("/stripe/admin/login", &[csrf(&token)], &form)
    };
    let reply = login("wrong", &token);
    assert_eq!(reply.status, 401);
    assert!(reply.body.contains("Wrong user name or password"));
    assert_eq!(login(PASSWORD, "forged").status, 403, "login needs the CSRF token too");

    let reply = login(PASSWORD, &token);
    assert_eq!(reply.status, 303);
    assert_eq!(reply.header("location"), "/stripe/admin/events/");
    let set = reply.header("set-cookie");
    assert!(set.starts_with("djstripe_admin_session=") && set.contains("HttpOnly") && set.contains("SameSite=Strict"));
    assert!(set.contains("Path=/stripe/admin") && !set.contains("Secure"), "plain HTTP on loopback: {set}");
    let session = set.split(';').next().unwrap().to_owned();
    let cookies = ("cookie", session.clone());
    assert_eq!(s.get("/stripe/admin/events/", std::slice::from_ref(&cookies)).status, 200);
    let second = login(PASSWORD, &token).header("set-cookie").split(';').next().unwrap().to_owned();
    assert_ne!(second, session, "every login its own random session");

    // Issue 15, 1: the token is no password (it logged in with any user name).
    for user in ["", "anyone", "ops"] {
        let form = [("csrf_token", token.as_str()), ("user", user), ("password", TOKEN)];
        assert_eq!(s.post("/stripe/admin/login", &[csrf(&token)], &form).status, 401, "{user}");
    }
    // An outside `next` is ignored.
    let form = [("csrf_token", token.as_str()), ("user", "ops"), ("password", PASSWORD), ("next", "//evil.example/")];
    let reply = s.post("/stripe/admin/login", &[csrf(&token)], &form);
    assert_eq!(reply.header("location"), "/stripe/admin/triggers/");

    // The session's forms carry a token of their own, not the login cookie's.
    let form_token = s.form_token(std::slice::from_ref(&cookies));
    assert_ne!(form_token, token);
    let reply = s.post("/stripe/admin/logout", std::slice::from_ref(&cookies), &[("csrf_token", token.as_str())]);
    assert_eq!(reply.status, 403, "the login cookie's token is no session's");
    let reply = s.post("/stripe/admin/logout", std::slice::from_ref(&cookies), &[("csrf_token", form_token.as_str())]);
    assert_eq!(reply.status, 303);
    assert_eq!(reply.header("location"), "/stripe/admin/login?done=logged_out");
    assert!(reply.header("set-cookie").contains("Max-Age=0"));
    // The browser may keep the cookie: it is worth nothing now.
    assert_eq!(s.get("/stripe/admin/events/", std::slice::from_ref(&cookies)).status, 303, "logged out");
    assert_eq!(s.get("/stripe/admin/events/", &[("cookie", second)]).status, 200, "another login is another session");
}

/// Behind a trusted https proxy cookies are `Secure` and `__Host-`; the same headers from
/// anyone else are not believed (issue 15, 4), and a site that is not loopback gets secure
/// cookies over plain HTTP too, unless `secure_cookies` is off.
pub fn secure_cookies_follow_trusted_proxies_and_the_setting(serve: Serve) {
    let admin = AdminConfig::password("ops", &hash_password(PASSWORD)).unwrap();
    let trusted = site_with_settings(serve, Some(admin.clone()), |settings| {
        settings.trusted_proxies(["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()])
    });
    let untrusted = site_with(serve, Some(admin.clone()));
    let proxied = [("x-forwarded-proto", "https".to_owned()), ("x-forwarded-host", "shop.example.com".to_owned())];
    let cookie_of = |reply: &Reply| reply.set_cookies().iter().find(|c| c.contains("_csrf=")).unwrap().to_string();
    let set = cookie_of(&trusted.get("/stripe/admin/login", &proxied));
    assert!(
        set.starts_with("__Host-djstripe_admin_csrf=") && set.contains("; Secure") && set.contains("Path=/;"),
        "{set}"
    );
    let reply = untrusted.get("/stripe/admin/login", &proxied);
    let set = cookie_of(&reply);
    assert!(set.starts_with("djstripe_admin_csrf=") && !set.contains("Secure"), "a client's own header: {set}");
    assert!(reply.headers.iter().all(|(k, _)| k != "strict-transport-security"));
    let reply = trusted.get("/stripe/admin/login", &proxied);
    assert_eq!(reply.header("strict-transport-security"), "max-age=31536000", "HSTS under TLS only");

    // A login through the trusted proxy: a `__Host-` session that works through it.
    let token = cookie_of(&reply).split(';').next().unwrap().split_once('=').unwrap().1.to_owned();
    let mut headers = proxied.to_vec();
    headers.push(("cookie", format!("__Host-djstripe_admin_csrf={token}")));
    let form = [("csrf_token", token.as_str()), ("user", "ops"), ("password", PASSWORD)];
    let reply = trusted.post("/stripe/admin/login", &headers, &form);
    assert_eq!(reply.status, 303, "{}", reply.body);
    let session = reply.header("set-cookie").split(';').next().unwrap().to_owned();
    assert!(session.starts_with("__Host-djstripe_admin_session="), "{session}");
    let mut headers = proxied.to_vec();
    headers.push(("cookie", session.clone()));
    assert_eq!(trusted.get("/stripe/admin/events/", &headers).status, 200);

    // Not loopback (a Host the server is reached by), plain HTTP: still Secure, and the login
    // form says why a browser would not keep it.
    let outside = [("host", "shop.example.com".to_owned())];
    assert!(cookie_of(&untrusted.get("/stripe/admin/login", &outside)).starts_with("__Host-"));
    let mut headers = outside.to_vec();
    headers.push(("cookie", format!("__Host-djstripe_admin_csrf={token}")));
    let reply = untrusted.post("/stripe/admin/login", &headers, &form);
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(reply.body.contains("DJSTRIPE_ADMIN_SECURE_COOKIES"), "{}", reply.body);
    let off = site_with(serve, Some(admin.secure_cookies(false)));
    assert!(cookie_of(&off.get("/stripe/admin/login", &outside)).starts_with("djstripe_admin_csrf="));
}

/// Every state-changing form needs the token bound to the credential (issue 15, 2: a planted
/// cookie with the same value in the form was accepted) and must come from this site; GET
/// changes nothing.
pub fn state_changing_forms_need_the_csrf_token(serve: Serve) {
    let s = site(serve);
    let token = s.form_token(&[good()]);
    let id = s.endpoint_id;
    let post = |extra: &[(&str, String)], field: Option<&str>| {
        let mut headers = vec![good()];
        headers.extend_from_slice(extra);
        let mut form = vec![("status", "disabled")];
        if let Some(field) = field {
            form.push(("csrf_token", field));
        }
        s.post(&format!("/stripe/admin/endpoints/{id}/status"), &headers, &form)
    };
    let login_cookie = s.csrf_cookie();
    for (extra, field) in [
        (vec![], None),
        (vec![], Some("0000")),
        (vec![csrf("attacker")], Some("attacker")),
        (vec![csrf(&login_cookie)], Some(login_cookie.as_str())),
        (vec![csrf("")], Some("")),
    ] {
        let reply = post(&extra, field);
        assert_eq!(reply.status, 403, "{extra:?} field {field:?}");
        assert!(reply.body.contains("CSRF"));
    }
    // The issue's exact request: planted cookie and field, another site's Origin, text/plain.
    for cross in [
        vec![("origin", "https://evil.example".to_owned())],
        vec![("origin", "null".to_owned())],
        vec![("sec-fetch-site", "cross-site".to_owned())],
        vec![("sec-fetch-site", "same-site".to_owned())],
    ] {
        let reply = post(&cross, Some(&token));
        assert_eq!(reply.status, 403, "{cross:?}: {}", reply.body);
        assert!(reply.body.contains("another site"), "{}", reply.body);
    }
    let mut headers = vec![good(), csrf("attacker"), ("origin", "https://evil.example".into())];
    headers.push(("content-type", "text/plain".into()));
    let raw = b"csrf_token=attacker&status=disabled".to_vec();
    let reply = s.call("POST", &format!("/stripe/admin/endpoints/{id}/status"), &headers, Some(raw));
    assert_eq!(reply.status, 403);
    let db = s.djstripe.engine().database();
    assert!(db.endpoints().unwrap()[0].is_enabled(), "nothing changed");
    // GET is never state-changing: the forms' routes do not answer it.
    for uri in [format!("/stripe/admin/endpoints/{id}/delete"), format!("/stripe/admin/endpoints/{id}/delete/")] {
        let status = s.get(&uri, &[good()]).status;
        assert!(!(200..300).contains(&status), "{uri}: {status}");
    }
    let reply = s.get(&format!("/stripe/admin/endpoints/{id}/delete"), &[good()]);
    assert_eq!((reply.status, reply.header("allow")), (405, "POST"));
    assert_eq!(db.endpoints().unwrap().len(), 1);
    // A form announced over the limit is refused before it is read.
    assert_eq!(s.status_of_announced_body(&format!("/stripe/admin/endpoints/{id}/status"), ""), 413);

    let origin = ("origin", s.base.clone());
    assert_eq!(post(&[origin, ("sec-fetch-site", "same-origin".into())], Some(&token)).status, 303, "this site");
    assert!(!db.endpoints().unwrap()[0].is_enabled());
    // A bearer token needs no CSRF token (a browser never sends one by itself).
    let bearer =
        [("authorization", format!("Bearer {TOKEN}")), ("content-type", "application/x-www-form-urlencoded".into())];
    let reply =
        s.call("POST", &format!("/stripe/admin/endpoints/{id}/status"), &bearer, Some(b"status=enabled".to_vec()));
    assert_eq!(reply.status, 303, "{}", reply.body);
}

/// The triggers list: newest first, pages of 3, every filter, filters kept across pages.
pub fn triggers_are_paginated_newest_first_and_filtered(serve: Serve) {
    let s = site(serve);
    for n in 0..4 {
        assert_eq!(s.deliver(EventBuilder::new("customer.created").id(format!("evt_ok_{n}"))), 200);
    }
    assert_eq!(s.deliver(EventBuilder::new("customer.updated").id("evt_fails").metadata("fail", "yes")), 500);
    // A bad signature: an invalid trigger.
    let bad = [("stripe-signature", "t=1,v1=00".to_owned())];
    let body = EventBuilder::new("price.created").to_json();
    assert_eq!(s.call("POST", &format!("/stripe/webhook/{}/", s.uuid), &bad, Some(body)).status, 400);
    assert_eq!(s.deliver(EventBuilder::new("price.created").id("evt_price")), 200);
    // 7 triggers, ids 1..=7, page size 3.

    let page = |query: &str| s.get(&format!("/stripe/admin/triggers/?{query}"), &[good()]).body;
    let page1 = page("");
    assert_eq!(listed(&page1), vec![7, 6, 5]);
    assert!(page1.contains("page=2") && !page1.contains("rel=\"prev\""));
    assert!(page1.contains("<title>Webhook event triggers"), "{page1}");
    let page3 = page("page=3");
    assert_eq!(listed(&page3), vec![1]);
    assert!(!page3.contains("rel=\"next\"") && page3.contains("page=2"));
    let beyond = page("page=9");
    assert!(listed(&beyond).is_empty() && beyond.contains("No triggers match"));

    let ids = |query: &str| listed(&page(query));
    assert_eq!(ids("valid=no"), vec![6]);
    assert_eq!(ids("failed=yes"), vec![5]);
    assert_eq!(ids("processed=no&valid=yes"), vec![5]);
    assert_eq!(ids("type=price.created"), vec![7]);
    assert_eq!(ids("type=customer.created&page=2"), vec![1]);
    assert_eq!(s.endpoint_id, 1);
    assert_eq!(ids("endpoint=1&valid=yes&type=customer.updated"), vec![5]);
    assert_eq!(ids("endpoint=999"), Vec::<i64>::new());
    // Filters survive pagination.
    let filtered = page("type=customer.created");
    assert!(filtered.contains("type=customer.created&amp;page=2"), "{filtered}");
    // A bad filter value is a clear 400.
    let reply = s.get("/stripe/admin/triggers/?valid=maybe", &[good()]);
    assert_eq!(reply.status, 400);
    assert!(reply.body.contains("`maybe` is not a value of valid"));
}

/// One failed trigger in full (error, escaped pretty body), reprocessed by its button.
pub fn a_failed_trigger_shows_its_error_and_can_be_reprocessed(serve: Serve) {
    let s = site(serve);
    let token = s.form_token(&[good()]);
    assert_eq!(s.deliver(EventBuilder::new("customer.updated").id("evt_fail_once").metadata("fail", "yes")), 500);
    let html = s.get("/stripe/admin/triggers/1/", &[good()]).body;
    assert!(html.contains("asked to fail for evt_fail_once"), "{html}");
    assert!(
        html.contains("id=\"reprocess\"") && html.contains("&quot;fail&quot;: &quot;yes&quot;"),
        "pretty, escaped body"
    );

    let reply =
        s.post("/stripe/admin/triggers/1/reprocess", &[good(), csrf(&token)], &[("csrf_token", token.as_str())]);
    assert_eq!(reply.status, 303);
    assert_eq!(reply.header("location"), "/stripe/admin/triggers/2/?done=reprocessed");
    let html = s.get("/stripe/admin/triggers/2/?done=reprocessed", &[good()]).body;
    assert!(html.contains("Reprocessed: this is the new attempt") && html.contains(">failed</span>"), "{html}");
    assert!(html.contains("href=\"/stripe/admin/triggers/1/\""), "links to the original");
    assert!(s.get("/stripe/admin/triggers/1/", &[good()]).body.contains("Reprocessing attempts"));

    assert_eq!(s.get("/stripe/admin/triggers/99/", &[good()]).status, 404);
}

/// Events (filtered, one in full with its handlers), handlers, endpoints (secrets never shown).
pub fn events_handlers_and_endpoints_pages(serve: Serve) {
    let s = site(serve);
    assert_eq!(s.deliver(EventBuilder::new("customer.updated").id("evt_shown")), 200);
    assert_eq!(s.deliver(EventBuilder::new("price.created").id("evt_other")), 200);
    let get = |uri: &str| s.get(uri, &[good()]);

    let list = get("/stripe/admin/events/?type=customer.updated").body;
    assert!(list.contains("evt_shown") && !list.contains("evt_other"));
    let event = get("/stripe/admin/events/evt_shown/").body;
    assert!(event.contains("admin_http::fail_on_request"), "the matching handler: {event}");
    assert!(event.contains("\n  &quot;id&quot;: &quot;evt_shown&quot;"), "pretty JSON");
    assert!(get("/stripe/admin/events/evt_other/").body.contains("No handler matches this type"));
    assert_eq!(get("/stripe/admin/events/evt_nope/").status, 404);

    let handlers = get("/stripe/admin/handlers/").body;
    assert!(handlers.contains("admin_http::fail_on_request") && handlers.contains("customer.updated"));
    assert!(handlers.contains("admin_http.rs:"), "file:line");

    let endpoints = get("/stripe/admin/endpoints/").body;
    assert!(endpoints.contains("test endpoint") && endpoints.contains("set (never shown)"));
    assert!(!endpoints.contains(SECRET) && !endpoints.contains("whsec_admin"), "secrets are never rendered");
}

/// A new signing secret keeps the old one valid for a while; a previous one can be dropped.
pub fn secrets_are_rotated_and_dropped_without_being_shown(serve: Serve) {
    let s = site(serve);
    let token = s.form_token(&[good()]);
    let post = |uri: String, form: &[(&str, &str)]| {
        let mut form = form.to_vec();
        form.push(("csrf_token", &token));
        s.post(&uri, &[good(), csrf(&token)], &form)
    };
    let id = s.endpoint_id;
    assert_eq!(post(format!("/stripe/admin/endpoints/{id}/secrets"), &[("secret", "nope")]).status, 400);
    let new_secret = "whsec_rotated_secret_value";
    let form = [("secret", new_secret), ("keep_hours", "2")];
    assert_eq!(post(format!("/stripe/admin/endpoints/{id}/secrets"), &form).status, 303);
    let endpoint = s.djstripe.engine().database().endpoints().unwrap().remove(0);
    assert_eq!(endpoint.valid_secrets(chrono::Utc::now().timestamp()), vec![new_secret.to_owned(), SECRET.to_owned()]);
    let html = s.get("/stripe/admin/endpoints/", &[good()]).body;
    assert!(html.contains("1 previous still valid") && !html.contains("whsec_rotated") && !html.contains(SECRET));

    assert_eq!(post(format!("/stripe/admin/endpoints/{id}/secrets/drop"), &[("index", "3")]).status, 400);
    assert_eq!(post(format!("/stripe/admin/endpoints/{id}/secrets/drop"), &[("index", "0")]).status, 303);
    let endpoint = s.djstripe.engine().database().endpoints().unwrap().remove(0);
    assert_eq!(endpoint.valid_secrets(chrono::Utc::now().timestamp()), vec![new_secret.to_owned()]);
}

/// The "add endpoint" form is prefilled from the host, and shows Stripe's objections with the form.
pub fn the_add_form_refuses_what_stripe_would_refuse(serve: Serve) {
    let s = site(serve);
    let token = s.form_token(&[good()]);
    let html = s.get("/stripe/admin/endpoints/new", &[good(), ("host", "shop.example.com".into())]).body;
    assert!(html.contains(r#"value="http://shop.example.com""#), "base URL prefilled from the host: {html}");
    assert!(html.contains(r#"<label for="base_url">"#) && html.contains(r#"<label for="enabled_events">"#));
    let proxied = [good(), ("x-forwarded-proto", "https".into()), ("x-forwarded-host", "shop.example.com".into())];
    // Issue 15, 4: forwarding headers from a peer that is no trusted proxy are not believed.
    assert!(!s.get("/stripe/admin/endpoints/new", &proxied).body.contains(r#"value="https://shop.example.com""#));
    for (mode, base, needle) in [
        // The same messages as `shop endpoints create` (djstripe_core::endpoints::check_base_url).
        ("test", "http://localhost:8000", "is this machine, which Stripe cannot reach"),
        ("live", "http://shop.example.com", "live-mode endpoints must use https"),
        ("test", "https://192.168.0.10", "is a private address"),
    ] {
        let form = [("csrf_token", token.as_str()), ("mode", mode), ("base_url", base), ("enabled_events", "*")];
        let reply = s.post("/stripe/admin/endpoints/", &[good(), csrf(&token)], &form);
        assert_eq!(reply.status, 422);
        assert!(
            reply.body.contains(needle) && reply.body.contains(&format!("value=\"{base}\"")),
            "{needle}: {}",
            reply.body
        );
    }
    assert_eq!(s.djstripe.engine().database().endpoints().unwrap().len(), 1, "nothing created");
}

/// No configuration, no admin: its paths are nobody's.
pub fn off_unless_configured(serve: Serve) {
    assert!(AdminConfig::from_lookup(|_| None).unwrap().is_none());
    let err = AdminConfig::from_lookup(|n| (n == "DJSTRIPE_ADMIN_TOKEN").then(|| "short".to_owned())).unwrap_err();
    assert!(err.to_string().contains("DJSTRIPE_ADMIN_TOKEN"));
    let err = AdminConfig::from_lookup(|n| (n == "DJSTRIPE_ADMIN_PASSWORD_HASH").then(|| "plaintext".to_owned()))
        .unwrap_err();
    assert!(err.to_string().contains("DJSTRIPE_ADMIN_PASSWORD_HASH"));
    // The old unsalted format: refused, with the way out.
    let old = "sha256:30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4".to_owned();
    let err = AdminConfig::from_lookup(|n| (n == "DJSTRIPE_ADMIN_PASSWORD_HASH").then(|| old.clone())).unwrap_err();
    let err = err.to_string();
    assert!(err.contains("admin set-password") && err.contains("admin hash-password"), "{err}");
    let s = site_with(serve, None);
    assert_eq!(s.get("/stripe/admin/triggers/", &[good()]).status, 404);
    assert_eq!(s.deliver(EventBuilder::new("customer.created")), 200, "the webhook is served");
}

/// The database's users (`admin set-password`) log in by form and HTTP basic; a new password
/// ends their sessions and refuses the old one; the environment's user still logs in.
pub fn database_users_log_in_and_a_new_password_ends_their_sessions(serve: Serve) {
    let s = site(serve);
    let db = s.djstripe.engine().database();
    db.set_admin_password("clerk", &hash_password("first passphrase")).unwrap();
    assert_eq!(s.get("/stripe/admin/triggers/", &[basic("clerk", "first passphrase")]).status, 200);
    assert_eq!(s.get("/stripe/admin/triggers/", &[basic("clerk", "wrong passphrase")]).status, 401);
    assert_eq!(s.get("/stripe/admin/triggers/", &[good()]).status, 200, "the environment's user too");

    let token = s.csrf_cookie();
    let form = [("csrf_token", token.as_str()), ("user", "clerk"), ("password", "first passphrase")];
    let reply = s.post("/stripe/admin/login", &[csrf(&token)], &form);
    assert_eq!(reply.status, 303, "{}", reply.body);
    let session = reply.header("set-cookie").split(';').next().unwrap().to_owned();
    let with_session = [("cookie", session.clone())];
    assert_eq!(s.get("/stripe/admin/events/", &with_session).status, 200);
    // A made-up session key is no login.
    let forged = [("cookie", format!("djstripe_admin_session={}", "ab".repeat(32)))];
    assert_eq!(s.get("/stripe/admin/events/", &forged).status, 303);
    // Another instance on the same database knows the session, and sees it end.
    let other = format!("http://{}", serve(s.djstripe.clone(), Some(AdminConfig::database_users())));
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
    let status_at_other = || {
        let url = format!("{other}/stripe/admin/events/");
        agent.get(url).header("cookie", session.as_str()).call().unwrap().status().as_u16()
    };
    assert_eq!(status_at_other(), 200, "a session is a row, not this process's memory");

    db.set_admin_password("clerk", &hash_password("second passphrase")).unwrap();
    assert_eq!(s.get("/stripe/admin/events/", &with_session).status, 303, "the old session ended");
    assert_eq!(status_at_other(), 303, "on every instance");
    assert_eq!(s.get("/stripe/admin/triggers/", &[basic("clerk", "first passphrase")]).status, 401);
    assert_eq!(s.get("/stripe/admin/triggers/", &[basic("clerk", "second passphrase")]).status, 200);
    db.delete_admin_user("clerk").unwrap();
    assert_eq!(s.get("/stripe/admin/triggers/", &[basic("clerk", "second passphrase")]).status, 401);

    // Only database users: no credential in the environment at all.
    let only_db = site_with(serve, Some(AdminConfig::database_users()));
    only_db.djstripe.engine().database().set_admin_password("ops", &hash_password(PASSWORD)).unwrap();
    assert_eq!(only_db.get("/stripe/admin/triggers/", &[good()]).status, 200);
    assert_eq!(only_db.get("/stripe/admin/triggers/", &[("authorization", format!("Bearer {TOKEN}"))]).status, 401);
}

/// Many wrong passwords at once: at most `max_concurrent_logins` are verified together, the
/// others are answered 429 at once (with `Retry-After`), none is let in; afterwards a right
/// password works.
pub fn a_login_flood_is_answered_429_beyond_the_verification_limit(serve: Serve) {
    let s = site_with(
        serve,
        Some(
            AdminConfig::password("ops", &hash_password(PASSWORD))
                .unwrap()
                .max_concurrent_logins(1)
                .failed_logins_per_minute(1000),
        ),
    );
    let base = s.base.clone();
    let start = std::sync::Arc::new(std::sync::Barrier::new(16));
    let clients: Vec<_> = (0..16)
        .map(|n| {
            let (base, start) = (base.clone(), start.clone());
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
                let (name, value) = basic("ops", &format!("wrong {n}"));
                start.wait();
                let response = agent.get(format!("{base}/stripe/admin/triggers/")).header(name, value).call().unwrap();
                let retry = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
                (response.status().as_u16(), retry)
            })
        })
        .collect();
    let answers: Vec<(u16, Option<String>)> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    assert!(answers.iter().all(|(status, _)| [401, 429].contains(status)), "{answers:?}");
    let refused: Vec<_> = answers.iter().filter(|(status, _)| *status == 429).collect();
    assert!(!refused.is_empty(), "16 at once, 1 verified at a time: {answers:?}");
    assert!(refused.iter().all(|(_, retry)| retry.as_deref() == Some("1")), "{answers:?}");
    assert!(answers.iter().any(|(status, _)| *status == 401), "some were verified: {answers:?}");
    assert_eq!(s.get("/stripe/admin/triggers/", &[good()]).status, 200, "the slot is given back");
}

/// A client address that failed `failed_logins_per_minute` times is answered 429 for the rest
/// of its minute, even with the right password or token (no check is made); form, HTTP basic
/// and bearer token share the count (issue 15, 1: a wrong token was not counted, a right one let
/// in after any number of failures).
pub fn failed_logins_lock_the_client_address_for_a_minute(serve: Serve) {
    let s = site_with(
        serve,
        Some(
            AdminConfig::password("ops", &hash_password(PASSWORD))
                .unwrap()
                .with_token(TOKEN)
                .failed_logins_per_minute(3),
        ),
    );
    for n in 0..3 {
        assert_eq!(s.get("/stripe/admin/triggers/", &[basic("ops", &format!("guess {n}"))]).status, 401, "{n}");
    }
    let reply = s.get("/stripe/admin/triggers/", &[good()]);
    assert_eq!(reply.status, 429, "locked, whatever the password: {}", reply.body);
    let retry: u64 = reply.header("retry-after").parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert!(reply.body.contains("Too many failed logins from your address"), "{}", reply.body);
    let token = s.csrf_cookie();
    let form = [("csrf_token", token.as_str()), ("user", "ops"), ("password", PASSWORD)];
    assert_eq!(s.post("/stripe/admin/login", &[csrf(&token)], &form).status, 429, "the login form too");
    let reply = s.get("/stripe/admin/triggers/", &[("authorization", format!("Bearer {TOKEN}"))]);
    assert_eq!(reply.status, 429, "the token too");
    assert!(reply.header("retry-after").parse::<u64>().is_ok());
    // X-Forwarded-For from an untrusted peer is not believed: still the locked address.
    let spoofed = [good(), ("x-forwarded-for", "203.0.113.7".into())];
    assert_eq!(s.get("/stripe/admin/triggers/", &spoofed).status, 429);
}

/// Issue 15, 5: no `Content-Security-Policy`, `X-Content-Type-Options` or `Referrer-Policy` on
/// the admin's answers. Every answer has them, pages, redirects and refusals alike; HSTS only
/// under TLS (see `secure_cookies_follow_trusted_proxies_and_the_setting`).
pub fn every_answer_has_the_security_headers(serve: Serve) {
    let s = site(serve);
    let answers = [
        s.get("/stripe/admin/triggers/", &[good()]),
        s.get("/stripe/admin/login", &[]),
        s.get("/stripe/admin/triggers/", &[]),
        s.get("/stripe/admin/triggers/", &[basic("ops", "wrong")]),
        s.get("/stripe/admin/nothing-here", &[good()]),
        s.get("/stripe/admin/triggers/999999/", &[good()]),
        s.post("/stripe/admin/logout", &[("origin", "https://evil.example".into())], &[]),
    ];
    let mut styled = 0;
    for reply in answers {
        let csp = reply.header("content-security-policy");
        assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(!csp.contains("script-src"), "no script at all: {csp}");
        assert!(!csp.contains("unsafe-inline"), "no injected style applies: {csp}");
        assert!(!reply.body.contains("style=\""), "no style attribute (the CSP would drop it)");
        // The page's one stylesheet is the one the policy allows, by its SHA-256.
        if let Some(start) = reply.body.find("<style>") {
            let css = &reply.body[start + "<style>".len()..reply.body.find("</style>").unwrap()];
            assert_eq!(reply.body.matches("<style>").count(), 1);
            let hash = base64::engine::general_purpose::STANDARD.encode(crate::auth::sha256(css.as_bytes()));
            assert!(csp.contains(&format!("style-src 'sha256-{hash}'")), "{csp}");
            styled += 1;
        }
        assert_eq!(reply.header("x-content-type-options"), "nosniff");
        assert_eq!(reply.header("referrer-policy"), "same-origin");
        assert_eq!(reply.header("x-frame-options"), "DENY");
        assert_eq!(reply.header("cache-control"), "no-store");
        assert!(reply.headers.iter().all(|(k, _)| k != "strict-transport-security"), "plain HTTP: no HSTS");
    }
    assert_eq!(styled, 3, "two pages and the error page carry the stylesheet");
}

/// Failed logins of all clients together pause every login (issue 15, 1: 300 guesses in 2.4 s
/// were all checked, the 301st right one let in); wrong bearer tokens count too.
pub fn failed_logins_of_all_clients_pause_every_login(serve: Serve) {
    let config = AdminConfig::password("ops", &hash_password(PASSWORD))
        .unwrap()
        .with_token(TOKEN)
        .failed_logins_per_minute(1000)
        .failed_logins_per_minute_total(4);
    let s = site_with(serve, Some(config));
    for n in 0..2 {
        assert_eq!(s.get("/stripe/admin/triggers/", &[basic("ops", &format!("guess {n}"))]).status, 401, "{n}");
        let bearer = ("authorization", format!("Bearer guess-{n}"));
        assert_eq!(s.get("/stripe/admin/triggers/", &[bearer]).status, 401, "{n}");
    }
    for credential in [good(), ("authorization", format!("Bearer {TOKEN}"))] {
        let reply = s.get("/stripe/admin/triggers/", &[credential]);
        assert_eq!(reply.status, 429, "{}", reply.body);
        assert!(reply.body.contains("logins are paused"), "{}", reply.body);
        assert!((1..=60).contains(&reply.header("retry-after").parse::<u64>().unwrap()));
    }
}

/// Past `DJSTRIPE_WEBHOOK_REJECTED_PER_MINUTE`, rejected deliveries are answered but not stored;
/// the triggers page says how many.
pub fn rejected_deliveries_not_stored_are_counted_on_the_triggers_page(serve: Serve) {
    let limits = djstripe_core::app::Limits { rejected_per_minute: 3, ..Default::default() };
    let admin = AdminConfig::password("ops", &hash_password(PASSWORD)).unwrap();
    let s = site_with_settings(serve, Some(admin), |settings| settings.limits(limits));
    let page = s.get("/stripe/admin/triggers/", &[good()]).body;
    assert!(!page.contains("answered but not stored"), "nothing to say yet");
    let bad = [("stripe-signature", "t=1,v1=00".to_owned())];
    for _ in 0..7 {
        let body = EventBuilder::new("price.created").to_json();
        assert_eq!(s.call("POST", &format!("/stripe/webhook/{}/", s.uuid), &bad, Some(body)).status, 400);
    }
    let page = s.get("/stripe/admin/triggers/", &[good()]).body;
    assert_eq!(listed(&page).len(), 3, "three stored");
    assert!(page.contains("4 rejected deliveries since this process started were answered but not stored"), "{page}");
}

/// Issue 15, items 10–12: the form is prefilled with `DJSTRIPE_WEBHOOK_BASE_URL` (before: with
/// the request's own `http://127.0.0.1:...`, then refused with 422), takes any `acct_...`, Connect
/// and an API version (before: only accounts that had an endpoint); enable/disable acts at Stripe
/// (before: only the local row, and Stripe went on delivering to a 404).
pub fn endpoints_are_created_and_switched_at_stripe_like_the_cli(serve: Serve) {
    let stripe = djstripe_core::testing::FakeStripe::start();
    let admin = || Some(AdminConfig::password("ops", &hash_password(PASSWORD)).unwrap());
    let with_stripe = |settings: Settings, base: Option<&str>| Settings {
        api_base: stripe.base_url().to_owned(),
        test_secret_key: Some(djstripe_core::testing::FakeStripe::TEST_KEY.to_owned()),
        webhook_base_url: base.map(str::to_owned),
        ..settings
    };
    let loopback = ("host", "127.0.0.1:8000".to_owned());

    // Without DJSTRIPE_WEBHOOK_BASE_URL: this machine's address is not prefilled.
    let bare = site_with_settings(serve, admin(), |settings| with_stripe(settings, None));
    let html = bare.get("/stripe/admin/endpoints/new", &[good(), loopback.clone()]).body;
    assert!(
        !html.contains(r#"value="http://127.0.0.1:8000""#) && html.contains(r#"name="base_url" value="""#),
        "{html}"
    );
    assert!(html.contains("DJSTRIPE_WEBHOOK_BASE_URL"), "{html}");

    let s = site_with_settings(serve, admin(), |settings| with_stripe(settings, Some("https://shop.example.com/")));
    let html = s.get("/stripe/admin/endpoints/new", &[good(), loopback]).body;
    assert!(html.contains(r#"value="https://shop.example.com""#), "prefilled from the setting: {html}");
    let token = s.form_token(&[good()]);
    let post = |path: &str, form: &[(&str, &str)]| {
        let mut fields = vec![("csrf_token", token.as_str())];
        fields.extend_from_slice(form);
        s.post(path, &[good(), csrf(&token)], &fields)
    };
    let base = [("mode", "test"), ("base_url", "https://shop.example.com"), ("enabled_events", "invoice.paid")];
    for (extra, needle) in [
        (("account", "acct_1'x"), "is not a Stripe account id"),
        (("api_version", "yesterday"), "is not a Stripe API version"),
        (("enabled_events", "*, invoice.paid"), "stands alone"),
    ] {
        let mut form = base.to_vec();
        form.retain(|(k, _)| *k != extra.0);
        form.push(extra);
        let reply = post("/stripe/admin/endpoints/", &form);
        assert_eq!(reply.status, 422, "{extra:?}");
        assert!(reply.body.contains(needle), "{needle}: {}", reply.body);
    }
    assert!(stripe.seen().is_empty(), "nothing sent for a refused form");

    let mut form = base.to_vec();
    form.extend([("account", "acct_TypedIn42"), ("connect", "on"), ("api_version", "2026-07-29.dahlia")]);
    assert_eq!(post("/stripe/admin/endpoints/", &form).status, 303);
    let created = stripe.seen().remove(0);
    assert_eq!(created.header("stripe-account"), Some("acct_TypedIn42"));
    assert_eq!(created.field("connect").as_deref(), Some("true"));
    assert_eq!(created.field("api_version").as_deref(), Some("2026-07-29.dahlia"));
    let db = s.djstripe.engine().database();
    let endpoint = db.endpoints().unwrap().into_iter().find(|e| e.stripe_id.is_some()).expect("stored");
    assert_eq!((endpoint.account.as_deref(), endpoint.connect), (Some("acct_TypedIn42"), true));
    let stripe_id = endpoint.stripe_id.clone().unwrap();

    // Disable, then enable: Stripe first, then the row.
    for (status, expected) in [("disabled", "disabled"), ("enabled", "enabled")] {
        let reply = post(&format!("/stripe/admin/endpoints/{}/status", endpoint.id), &[("status", status)]);
        assert_eq!(reply.status, 303);
        assert_eq!(stripe.endpoint(&stripe_id).unwrap()["status"], expected, "at Stripe");
        assert_eq!(db.endpoint(endpoint.id).unwrap().status, expected, "here");
        let last = stripe.seen().pop().unwrap();
        assert_eq!((last.method.as_str(), last.header("stripe-account")), ("POST", Some("acct_TypedIn42")));
    }

    // Deleted at Stripe before: the notice says so.
    assert!(stripe.remove_endpoint(&stripe_id));
    let reply = post(&format!("/stripe/admin/endpoints/{}/delete", endpoint.id), &[]);
    assert_eq!(reply.header("location"), "/stripe/admin/endpoints/?done=deleted_gone");
}

/// v2 event notifications: a `v2` badge, their context and related object in the list and on
/// their page (and whether their data was fetched); the endpoint page shows whether thin events
/// are fetched.
pub fn v2_events_and_the_fetch_flag_are_shown(serve: Serve) {
    let s = site(serve);
    let get = |uri: &str| s.get(uri, &[good()]);
    let thin = EventBuilder::v2("v1.billing.meter.error_report_triggered").id("evt_test_v2shown").account("acct_V2Ctx");
    let related = thin.build().related_object.unwrap();
    assert_eq!(s.deliver(thin), 200);
    assert_eq!(s.deliver(EventBuilder::new("price.created").id("evt_v1_plain")), 200);
    let badge = r#"<span class="badge" title="v2 event notification (thin event)">v2</span>"#;

    let list = get("/stripe/admin/events/").body;
    assert_eq!(list.matches(badge).count(), 1, "the v2 event alone has the badge: {list}");
    assert!(list.contains("<code>acct_V2Ctx</code>"), "{list}");
    assert!(list.contains(&format!("billing.meter {}", related.id)), "{list}");

    let page = get("/stripe/admin/events/evt_test_v2shown/").body;
    assert!(page.contains(badge), "{page}");
    assert!(page.contains("<dt>Context</dt><dd><code>acct_V2Ctx</code></dd>"), "{page}");
    let url = related.url.as_deref().unwrap();
    let reference =
        format!("<dt>Related object</dt><dd>billing.meter <code>{}</code> at <code>{url}</code></dd>", related.id);
    assert!(page.contains(&reference), "{reference}\n{page}");
    assert!(page.contains("not fetched: the notification as delivered"), "{page}");
    let plain = get("/stripe/admin/events/evt_v1_plain/").body;
    assert!(!plain.contains(badge) && !plain.contains("<dt>Related object</dt>"), "{plain}");

    assert!(get("/stripe/admin/endpoints/").body.contains("<dt>Thin events</dt><dd>as delivered (not fetched)</dd>"));
    let changes = djstripe_core::db::EndpointChanges { fetch_thin_events: Some(true), ..Default::default() };
    s.djstripe.engine().database().update_endpoint(s.endpoint_id, &changes).unwrap();
    let endpoints = get("/stripe/admin/endpoints/").body;
    assert!(endpoints.contains("<dt>Thin events</dt><dd>fetched: v2 notifications are completed"), "{endpoints}");
}

/// Inbox mode in the admin: the endpoint page says how it processes; the inbox page lists a
/// dead-lettered event with its error, and its Retry button (a CSRF-checked form) queues it
/// again, as `inbox retry` does.
pub fn the_inbox_page_shows_dead_letters_and_retries_them(serve: Serve) {
    let config = AdminConfig::password("ops", &hash_password(PASSWORD)).unwrap().with_token(TOKEN);
    let s = site_with_settings(serve, Some(config), |mut settings| {
        settings.processing = djstripe_core::db::Processing::Inbox;
        settings.inbox.max_attempts = 1;
        settings
    });
    let get = |uri: &str| s.get(uri, &[good()]);
    let endpoints = get("/stripe/admin/endpoints/").body;
    assert!(endpoints.contains("<dt>Processing</dt><dd>inbox: answered at once"), "{endpoints}");
    assert!(endpoints.contains("(the app's <code>DJSTRIPE_WEBHOOK_PROCESSING</code>)"), "{endpoints}");

    assert_eq!(s.deliver(EventBuilder::new("customer.updated").id("evt_inbox_dead").metadata("fail", "yes")), 200);
    let db = s.djstripe.engine().database();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while db.inbox_stats().unwrap().dead == 0 {
        assert!(std::time::Instant::now() < deadline, "the worker did not dead-letter the event");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let page = get("/stripe/admin/inbox/").body;
    assert!(page.contains("<code>evt_inbox_dead</code>") && page.contains(">dead</span>"), "{page}");
    assert!(page.contains("asked to fail for evt_inbox_dead"), "the last error: {page}");
    assert!(page.contains(r#"<strong id="inbox-dead">1</strong> dead-lettered"#), "{page}");
    assert!(page.contains(r#"action="/stripe/admin/inbox/evt_inbox_dead/retry""#), "{page}");
    assert!(get("/stripe/admin/inbox/?state=pending").body.contains("The inbox is empty."));
    assert_eq!(get("/stripe/admin/inbox/?state=sometimes").status, 400);

    let token = s.form_token(&[good()]);
    let forged = s.post("/stripe/admin/inbox/evt_inbox_dead/retry", &[good()], &[("csrf_token", "forged")]);
    assert_eq!(forged.status, 403, "no retry without the form's token");
    assert!(db.inbox_entry("evt_inbox_dead").unwrap().is_dead());
    let reply =
        s.post("/stripe/admin/inbox/evt_inbox_dead/retry", &[good(), csrf(&token)], &[("csrf_token", token.as_str())]);
    assert_eq!(reply.status, 303);
    assert_eq!(reply.header("location"), "/stripe/admin/inbox/?done=inbox_retried");
    assert!(get("/stripe/admin/inbox/?done=inbox_retried").body.contains("Queued again"));
    // Queued again: the worker tries once more (and, still asked to fail, dead-letters it again).
    let trigger = db.inbox_entry("evt_inbox_dead").unwrap().trigger_id;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while db.trigger(trigger).unwrap().outcome == djstripe_core::db::Outcome::Queued
        || !db.inbox_entry("evt_inbox_dead").unwrap().is_dead()
    {
        assert!(std::time::Instant::now() < deadline, "the retried event was not attempted again");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(get("/stripe/admin/inbox/unknown/retry").status, 405, "a GET changes nothing");
}
