#![allow(missing_docs)]
//! The admin over real HTTP against actix-web: djstripe-admin's suite (`admin_suite!`, the same
//! checks `djstripe-axum` runs), with the admin scope mounted before the webhook scope the way
//! an app mounts it.

use std::net::SocketAddr;

use actix_web::{App, HttpServer};
use djstripe_actix::Djstripe;
use djstripe_actix::admin::{self, Admin, AdminConfig};

/// The webhook scope at `/stripe` and, when configured, the admin at `/stripe/admin` and the
/// metrics at `/stripe/metrics` (one admin for both), served on a free port by one worker on a
/// thread of its own.
fn serve(djstripe: Djstripe, config: Option<AdminConfig>) -> SocketAddr {
    let (bound, addr) = std::sync::mpsc::channel();
    let admin = config.map(|c| Admin::new(djstripe.clone(), c));
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || {
                let pages = admin.clone().map(|a| admin::scope_for("/stripe/admin", a));
                let metrics = admin.clone().map(|a| admin::metrics("/stripe/metrics", a));
                App::new()
                    .service(pages.into_iter().collect::<Vec<_>>())
                    .service(metrics.into_iter().collect::<Vec<_>>())
                    .service(djstripe_actix::scope("/stripe", djstripe.clone()))
            })
            .workers(1)
            .disable_signals()
            .bind("127.0.0.1:0")
            .unwrap();
            bound.send(server.addrs()[0]).unwrap();
            server.run().await.unwrap();
        });
    });
    addr.recv().unwrap()
}

djstripe_admin::admin_suite!(serve);
