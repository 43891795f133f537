//! `bookstore serve` (the default), `bookstore migrate`, `bookstore events list`, ...: djstripe's
//! operator commands and the web server, with the store's routes, migrations and handlers.

fn main() -> std::process::ExitCode {
    djstripe_cli::Cli::new("bookstore")
        .migrations(bookstore::MIGRATIONS)
        .dev_endpoint(true)
        .server(djstripe_actix::Server::new().routes(bookstore::routes))
        .run()
}
