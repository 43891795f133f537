//! [`metric`]: one sample of a Prometheus scrape, for tests that count what the engine counted.

/// The value of the sample `name` with exactly the labels `labels` (in any order) in a
/// Prometheus text scrape ([`crate::metrics::Metrics::encode`], or what `{prefix}/metrics`
/// answered); `None` when there is no such sample. Label values may use the format's escapes
/// (`\"`, `\\`, `\n`).
///
/// ```
/// use djstripe_core::testing::metric;
/// let scrape = "# TYPE djstripe_deliveries_total counter\n\
///               djstripe_deliveries_total{endpoint=\"1\",outcome=\"processed\",status=\"200\"} 3\n\
///               djstripe_batch_size_count 2\n";
/// let labels = [("status", "200"), ("outcome", "processed"), ("endpoint", "1")];
/// assert_eq!(metric(scrape, "djstripe_deliveries_total", &labels), Some(3.0));
/// assert_eq!(metric(scrape, "djstripe_deliveries_total", &[("outcome", "processed")]), None, "exact label sets");
/// assert_eq!(metric(scrape, "djstripe_batch_size_count", &[]), Some(2.0));
/// ```
pub fn metric(scrape: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut wanted: Labels = labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    wanted.sort();
    scrape.lines().filter(|line| !line.starts_with('#')).find_map(|line| {
        let (sample, found, value) = parse(line)?;
        let mut found = found;
        found.sort();
        (sample == name && found == wanted).then_some(value)
    })
}

/// A sample's labels: (name, value) pairs.
type Labels = Vec<(String, String)>;

/// `name{labels} value` (or `name value`): the name, the labels, the value.
fn parse(line: &str) -> Option<(&str, Labels, f64)> {
    let end = line.find(['{', ' '])?;
    let name = &line[..end];
    let mut labels = Vec::new();
    let mut rest = &line[end..];
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices();
        loop {
            let start = chars.clone().next()?.0;
            let (eq, _) = chars.by_ref().find(|(_, c)| *c == '=')?;
            let key = inner[start..eq].trim_start_matches(',').to_owned();
            if chars.next()?.1 != '"' {
                return None;
            }
            let mut value = String::new();
            loop {
                match chars.next()?.1 {
                    '"' => break,
                    '\\' => match chars.next()?.1 {
                        'n' => value.push('\n'),
                        other => value.push(other),
                    },
                    c => value.push(c),
                }
            }
            labels.push((key, value));
            match chars.clone().next()? {
                (i, '}') => {
                    rest = &inner[i + 1..];
                    break;
                }
                (_, ',') => {}
                _ => return None,
            }
        }
    }
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some((name, labels, value))
}
