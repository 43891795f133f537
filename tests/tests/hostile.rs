#![allow(missing_docs)]
//! Hostile traffic against the example app over real HTTP, on both web adapters (issue 14;
//! RELIABILITY.md quotes these tests): stalled and trickled uploads, a cap on bodies read at
//! once, a flood of junk deliveries. Nobody here has the endpoint's secret.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use djstripe_core::testing::EventBuilder;
use djstripe_tests::*;

macro_rules! each_adapter {
    ($($name:ident),* $(,)?) => {
        mod actix { $( #[test] fn $name() { super::$name(djstripe_tests::Adapter::Actix) } )* }
        mod axum { $( #[test] fn $name() { super::$name(djstripe_tests::Adapter::Axum) } )* }
    };
}

each_adapter!(
    stalled_bodies_keep_memory_bounded,
    a_trickled_body_is_cut_off,
    past_the_readers_cap_503_with_retry_after,
    a_junk_flood_stores_a_bounded_number_of_rows,
    unknown_endpoints_read_no_body,
    idle_and_slow_connections_do_not_delay_a_delivery,
);

fn sqlite(adapter: Adapter) -> TestDb {
    TestDb::new(Stack { backend: Backend::Sqlite, adapter })
}

/// Opens a connection and sends the head of a POST announcing `length` body bytes.
fn announce(server: &Server, path: &str, length: usize) -> TcpStream {
    let mut stream = TcpStream::connect(server.address()).unwrap();
    // A server that stopped reading (it answered early) must not block the test.
    stream.set_write_timeout(Some(Duration::from_millis(500))).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nStripe-Signature: t=1,v1=00\r\n\
         Content-Length: {length}\r\n\r\n"
    )
    .unwrap();
    stream
}

/// Writes up to `bytes` bytes of junk; stops quietly when the server closed the connection.
fn send_junk(stream: &mut TcpStream, bytes: usize) -> usize {
    static CHUNK: [u8; 64 * 1024] = [b'x'; 64 * 1024];
    let mut sent = 0;
    while sent < bytes {
        let n = (bytes - sent).min(CHUNK.len());
        if stream.write_all(&CHUNK[..n]).is_err() {
            break;
        }
        sent += n;
    }
    sent
}

/// The status line's code of what the server answered on `stream` (within `wait`), if any.
fn status_of(stream: &mut TcpStream, wait: Duration) -> Option<(u16, String)> {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    let code = text.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, text))
}

/// A real, signed delivery, answered 200 within `within`.
fn assert_real_delivery_answered(server: &Server, secret: &str, within: Duration) {
    let signed = EventBuilder::new("customer.created").signed(secret);
    let started = Instant::now();
    let answer = post(&server.endpoint_url(), &signed.body, Some(&signed.header));
    let took = started.elapsed();
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(took < within, "a real delivery took {took:?}");
}

/// 200 connections announce a 2.5 MiB body, send 2.4 MiB of it and stall: the server's memory
/// grows by a bounded amount (the 64 KiB free per body plus the 32 MiB budget; before: from 10
/// to 573 MiB), and a real delivery is still answered within a second.
fn stalled_bodies_keep_memory_bounded(adapter: Adapter) {
    let db = sqlite(adapter);
    let server = Server::start(&db, &[("DJSTRIPE_WEBHOOK_BODY_TIMEOUT", "60")]);
    let secret = server.secret(&db);
    assert_real_delivery_answered(&server, &secret, Duration::from_secs(5));
    let before = server.rss_bytes();
    let path = format!("/stripe/webhook/{}/", server.uuid);
    let stalled: Vec<TcpStream> = std::thread::scope(|scope| {
        let senders: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    (0..25)
                        .map(|_| {
                            let mut stream = announce(&server, &path, 2_621_000);
                            send_junk(&mut stream, 2_500_000);
                            stream
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        senders.into_iter().flat_map(|s| s.join().unwrap()).collect()
    });
    assert_eq!(stalled.len(), 200);
    std::thread::sleep(Duration::from_millis(300));
    let after = server.rss_bytes();
    let grown = after.saturating_sub(before);
    eprintln!("200 stalled 2.4 MiB uploads: server RSS {} -> {} MiB", before >> 20, after >> 20);
    assert!(grown < 160 << 20, "200 stalled uploads grew the server by {} MiB", grown >> 20);
    assert_real_delivery_answered(&server, &secret, Duration::from_secs(1));
    drop(stalled);
}

/// A body sent at 1 byte a second is cut off at `DJSTRIPE_WEBHOOK_BODY_TIMEOUT` with a 408.
fn a_trickled_body_is_cut_off(adapter: Adapter) {
    let db = sqlite(adapter);
    let server = Server::start(&db, &[("DJSTRIPE_WEBHOOK_BODY_TIMEOUT", "1.5")]);
    let mut stream = announce(&server, &format!("/stripe/webhook/{}/", server.uuid), 1000);
    let started = Instant::now();
    let mut writer = stream.try_clone().unwrap();
    let trickle = std::thread::spawn(move || {
        for _ in 0..8 {
            if writer.write_all(b"x").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    let answer = status_of(&mut stream, Duration::from_secs(6));
    let took = started.elapsed();
    let (code, text) = answer.expect("an answer before the body was complete");
    assert_eq!(code, 408, "{text}");
    assert!(took >= Duration::from_millis(1400) && took < Duration::from_secs(4), "cut off after {took:?}");
    drop(stream);
    trickle.join().unwrap();
    assert_eq!(
        db.count(
            "SELECT COUNT(*) AS n FROM djstripe_webhookeventtrigger WHERE outcome = 'invalid' AND exception LIKE '%did not arrive%'"
        ),
        1,
        "the cut-off delivery left a trigger row"
    );
}

/// With `DJSTRIPE_WEBHOOK_MAX_READERS=4`, four stalled uploads take every slot: the next
/// delivery is answered 503 with `Retry-After`, at once; once they are gone, deliveries succeed.
fn past_the_readers_cap_503_with_retry_after(adapter: Adapter) {
    let db = sqlite(adapter);
    let server = Server::start(&db, &[("DJSTRIPE_WEBHOOK_MAX_READERS", "4"), ("DJSTRIPE_WEBHOOK_BODY_TIMEOUT", "30")]);
    let secret = server.secret(&db);
    let path = format!("/stripe/webhook/{}/", server.uuid);
    let stalled: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut stream = announce(&server, &path, 5000);
            send_junk(&mut stream, 10);
            stream
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let signed = EventBuilder::new("customer.created").signed(&secret);
    let started = Instant::now();
    let answer = post(&server.endpoint_url(), &signed.body, Some(&signed.header));
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(answer.retry_after.as_deref(), Some("1"), "{answer:?}");
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(answer.json["error"], "busy, retry later", "no internal detail: {answer:?}");
    drop(stalled);
    std::thread::sleep(Duration::from_millis(300));
    assert_real_delivery_answered(&server, &secret, Duration::from_secs(2));
}

/// 1,500 junk deliveries (bad signatures) from one address within seconds: each is answered
/// 400, but only `DJSTRIPE_WEBHOOK_REJECTED_PER_MINUTE` (60) of them leave a trigger row (before:
/// every one, ≈ 100 GB an hour of flood); a real delivery still works.
fn a_junk_flood_stores_a_bounded_number_of_rows(adapter: Adapter) {
    let db = sqlite(adapter);
    let server = Server::start(&db, &[("DJSTRIPE_WEBHOOK_SECRET", "whsec_legacy_flood")]);
    let secret = server.secret(&db);
    let junk = EventBuilder::new("customer.created").signed("whsec_not_the_secret");
    for url in [server.endpoint_url(), format!("{}/stripe/webhook/", server.base)] {
        std::thread::scope(|scope| {
            for _ in 0..3 {
                scope.spawn(|| {
                    for _ in 0..250 {
                        let answer = post(&url, &junk.body, Some(&junk.header));
                        assert_eq!(answer.status, 400, "{answer:?}");
                    }
                });
            }
        });
    }
    let rows = db.count("SELECT COUNT(*) AS n FROM djstripe_webhookeventtrigger");
    assert!(rows <= 60, "1500 junk deliveries from one address stored {rows} rows");
    assert!(rows >= 50, "the first ones are recorded: {rows}");
    assert_real_delivery_answered(&server, &secret, Duration::from_secs(2));
}

/// A POST to an endpoint that does not exist is answered 404 without its body being read: the
/// answer comes while the client has sent only the head of a 2 MiB body.
fn unknown_endpoints_read_no_body(adapter: Adapter) {
    let db = sqlite(adapter);
    let server = Server::start(&db, &[]);
    let mut stream = announce(&server, "/stripe/webhook/6f1c1d0e-8a4b-4c43-9d7e-2f0a6f1c1d0e/", 2_000_000);
    let (code, text) = status_of(&mut stream, Duration::from_secs(3)).expect("answered before the body");
    assert_eq!(code, 404, "{text}");
    assert_eq!(db.count("SELECT COUNT(*) AS n FROM djstripe_webhookeventtrigger"), 0);
}

/// 300 idle connections and 100 that sent half a request head: a real delivery is still answered
/// within a second.
fn idle_and_slow_connections_do_not_delay_a_delivery(adapter: Adapter) {
    let db = sqlite(adapter);
    let server = Server::start(&db, &[]);
    let secret = server.secret(&db);
    let idle: Vec<TcpStream> = (0..300).map(|_| TcpStream::connect(server.address()).unwrap()).collect();
    let slow: Vec<TcpStream> = (0..100)
        .map(|_| {
            let mut stream = TcpStream::connect(server.address()).unwrap();
            stream.write_all(b"POST /stripe/webhook/ HTTP/1.1\r\nHost: loc").unwrap();
            stream
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    assert_real_delivery_answered(&server, &secret, Duration::from_secs(1));
    drop((idle, slow));
}
