//! `handoff-consumer`: the worker on the other side of the hand-off. Reads the stream through
//! its durable pull consumer (`HANDOFF_CONSUMER`, default `stripe-events-worker`), prints one
//! line per event (`evt_... customer.created`), and acknowledges each after printing it. Stops
//! at Ctrl-C; started again, it goes on after the last acknowledged message.

use std::io::Write;

use jetstream_handoff::{Handoff, HandoffError, consumer, stream};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,async_nats=warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let handoff = Handoff::from_env();
    let worker = async {
        let js = handoff.connect().await?;
        let stream = stream::ensure(&js, &handoff).await?;
        let consumer = consumer::ensure(&stream, &handoff).await?;
        eprintln!("handoff-consumer: consuming {} on {} as {}", handoff.stream, handoff.nats_url, handoff.consumer);
        consumer::handle_forever(&consumer, |event| writeln!(std::io::stdout(), "{} {}", event.id, event.event_type()))
            .await
    };
    let result: Result<(), HandoffError> = tokio::select! {
        result = worker => result,
        _ = tokio::signal::ctrl_c() => Ok(()),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            let mut line = format!("handoff-consumer: error: {error}");
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                line.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            eprintln!("{line}");
            std::process::ExitCode::FAILURE
        }
    }
}
