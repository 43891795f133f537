//! `trigger`: the local `stripe trigger` — builds Stripe-shaped events of a type (their object
//! from Stripe's own example objects), signs them with an endpoint's secret and POSTs them, one
//! after the other, printing each answer. (The project's load generator is `bench/loadgen`.)

use djstripe_core::testing::{self, EventBuilder};

use super::{Cli, Open};
use crate::{Error, Result};

/// Arguments of `trigger`.
#[derive(clap::Args)]
pub(super) struct TriggerArgs {
    /// The event type to send, e.g. customer.created, or a v2 notification type such as
    /// v2.core.account.updated (sent as a thin event, `"object": "v2.core.event"`).
    event_type: String,
    /// A local endpoint's uuid (see `endpoints list`): its URL and its secret, read from the database, are used.
    #[arg(long)]
    endpoint: Option<String>,
    /// The server's base URL, used with --endpoint or for the legacy endpoint.
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    base_url: String,
    /// The full webhook URL instead. Default: {base-url}{prefix}/webhook/{endpoint}/ (or /webhook/ for legacy).
    #[arg(long)]
    url: Option<String>,
    /// The signing secret (default: the endpoint's, or DJSTRIPE_WEBHOOK_SECRET's first).
    #[arg(long)]
    secret: Option<String>,
    /// How many events to send, 1 to 1000: each a new event about a new object (fresh ids, as
    /// `stripe trigger` creates new objects).
    #[arg(long, default_value_t = 1)]
    count: u32,
}

/// Shows every argument but the secret (`whsec_…` when given).
impl std::fmt::Debug for TriggerArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TriggerArgs")
            .field("event_type", &self.event_type)
            .field("endpoint", &self.endpoint)
            .field("base_url", &self.base_url)
            .field("url", &self.url)
            .field("secret", &self.secret.as_ref().map(|_| "whsec_…"))
            .field("count", &self.count)
            .finish()
    }
}

/// Where to send, and what signs it.
struct Destination {
    url: String,
    secret: String,
}

fn destination(cli: &Cli, args: &TriggerArgs) -> Result<Destination> {
    let base = args.base_url.trim_end_matches('/');
    let Some(uuid) = &args.endpoint else {
        let secret = match &args.secret {
            Some(secret) => secret.clone(),
            None => cli.load_settings()?.webhook_secrets.first().cloned().ok_or_else(|| Error::Argument {
                flag: "--secret",
                message: "no secret: pass --secret, --endpoint UUID, or set DJSTRIPE_WEBHOOK_SECRET".into(),
            })?,
        };
        let url = args.url.clone().unwrap_or_else(|| format!("{base}{}/webhook/", cli.prefix));
        return Ok(Destination { url, secret });
    };
    let secret = match &args.secret {
        Some(secret) => secret.clone(),
        None => {
            let endpoint = cli.start(Open::Existing)?.engine().database().endpoint_by_uuid(uuid)?.ok_or_else(|| {
                Error::Argument {
                    flag: "--endpoint",
                    message: format!("no webhook endpoint with uuid {uuid} in the database"),
                }
            })?;
            if endpoint.secret.is_empty() {
                return Err(Error::Argument {
                    flag: "--endpoint",
                    message: format!("endpoint {uuid} has no secret stored: pass --secret"),
                });
            }
            endpoint.secret
        }
    };
    let url = args.url.clone().unwrap_or_else(|| format!("{base}{}/webhook/{uuid}/", cli.prefix));
    Ok(Destination { url, secret })
}

pub(super) fn run(cli: &Cli, args: TriggerArgs) -> Result<()> {
    let known = |types: &[&str]| types.contains(&args.event_type.as_str());
    if !known(testing::event_types()) && !known(testing::v2_event_types()) {
        return Err(Error::Argument {
            flag: "EVENT_TYPE",
            message: format!("unknown Stripe event type `{}` (see Stripe's docs, or `events list`)", args.event_type),
        });
    }
    if !(1..=1000).contains(&args.count) {
        return Err(Error::Argument { flag: "--count", message: "must be between 1 and 1000".into() });
    }
    let Destination { url, secret } = destination(cli, &args)?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .build()
        .into();
    let mut failed = 0;
    for _ in 0..args.count {
        let signed = fresh_event(&args.event_type).signed(&secret);
        let mut response = agent
            .post(&url)
            .header("Content-Type", "application/json")
            .header("Stripe-Signature", &signed.header)
            .send(&signed.body[..])
            .map_err(|e| Error::Send { url: url.clone(), reason: format!("got no answer: {e}") })?;
        let status = response.status().as_u16();
        let answer = response.body_mut().with_config().limit(64 * 1024).read_to_string().unwrap_or_default();
        say!("{status} {} {}", signed.event.id, answer.trim())?;
        if !(200..300).contains(&status) {
            failed += 1;
        }
    }
    if failed > 0 {
        return Err(Error::Send { url, reason: format!("{failed} of {} answered non-2xx (see above)", args.count) });
    }
    Ok(())
}

/// An event of `event_type` from Stripe's example object, with a fresh event id and a fresh
/// object id of the object's own prefix (`in_…` for an invoice): the object of one `trigger`
/// differs from the last's, as with `stripe trigger`.
fn fresh_event(event_type: &str) -> EventBuilder {
    // v2 notification types start with their API version (`v1.billing.meter...`, `v2.core...`);
    // no v1 snapshot type does. A notification's object is a fresh reference already.
    if event_type.starts_with("v1.") || event_type.starts_with("v2.") {
        return EventBuilder::v2(event_type);
    }
    let builder = EventBuilder::new(event_type);
    let event = builder.build();
    let suffix = event.id.trim_start_matches("evt_").to_owned();
    let builder = builder.id(event.id);
    match event.data.object["id"].as_str() {
        Some(id) => {
            let prefix = id.split_once('_').map_or(id, |(prefix, _)| prefix);
            builder.merge_object(serde_json::json!({ "id": format!("{prefix}_{suffix}") }))
        }
        None => builder,
    }
}

#[cfg(test)]
mod tests {
    /// Issue 15, 6: no secret in any `Debug` output, `--secret` included.
    #[test]
    fn debug_shows_no_secret() {
        let args = super::TriggerArgs {
            event_type: "customer.created".into(),
            endpoint: None,
            base_url: "http://127.0.0.1:8000".into(),
            url: None,
            secret: Some("whsec_S3NTINEL".into()),
            count: 1,
        };
        let out = format!("{args:?} {args:#?}");
        assert!(!out.contains("S3NTINEL") && out.contains("customer.created"), "{out}");
    }
}
