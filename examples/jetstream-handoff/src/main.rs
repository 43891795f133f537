//! `jetstream-handoff serve` (the default): the webhook server with the relay beside it, which
//! publishes each handled event to JetStream (`NATS_URL`, default `nats://127.0.0.1:4222`).
//! Every other djstripe command works as in any app: `migrate`, `trigger`, `events list`, ...

fn main() -> std::process::ExitCode {
    djstripe_cli::Cli::new("jetstream-handoff")
        .migrations(jetstream_handoff::MIGRATIONS)
        .dev_endpoint(true)
        .server(jetstream_handoff::RelayServer::new(
            djstripe_actix::Server::new(),
            jetstream_handoff::Handoff::from_env(),
        ))
        .run()
}
