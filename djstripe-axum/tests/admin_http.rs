#![allow(missing_docs)]
//! The admin over real HTTP against axum: djstripe-admin's suite (`admin_suite!`, the same
//! checks `djstripe-actix` runs), with the admin router nested the way an app nests it (`nest_service`).

use std::net::SocketAddr;

use axum::Router;
use djstripe_axum::Djstripe;
use djstripe_axum::admin::{self, Admin, AdminConfig};

/// The webhook router at `/stripe` and, when configured, the admin at `/stripe/admin` and the
/// metrics at `/stripe/metrics` (one admin for both), served on a free port by a one-thread
/// runtime of its own.
fn serve(djstripe: Djstripe, config: Option<AdminConfig>) -> SocketAddr {
    let mut app = Router::new().nest("/stripe", djstripe_axum::router(djstripe.clone()));
    if let Some(config) = config {
        let admin = Admin::new(djstripe, config);
        app = app
            .nest_service("/stripe/admin", admin::router_for(admin.clone()))
            .merge(admin::metrics("/stripe/metrics", admin));
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
        });
    });
    addr
}

djstripe_admin::admin_suite!(serve);
