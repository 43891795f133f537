#![allow(missing_docs)]
//! The admin over real HTTP against actix-web: djstripe-admin's suite (`admin_suite!`, the same
//! checks `djstripe-axum` runs), with the admin scope mounted before the webhook scope the way
//! an app mounts it.

use std::net::SocketAddr;

use actix_web::{App, HttpServer};
use djstripe_actix::Djstripe;
use djstripe_actix::admin::{self, AdminConfig};

/// The webhook scope at `/stripe` and, when configured, the admin at `/stripe/admin`, served on
/// a free port by one worker on a thread of its own.
fn serve(djstripe: Djstripe, config: Option<AdminConfig>) -> SocketAddr {
    let (bound, addr) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || {
                let admin = config.clone().map(|c| admin::scope("/stripe/admin", djstripe.clone(), c));
                App::new()
                    .service(admin.into_iter().collect::<Vec<_>>())
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
