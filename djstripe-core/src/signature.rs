//! Temporary minimal verifier (replaced by the signature branch).
#![allow(missing_docs)]
use crate::Error;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::Duration;

pub struct Verifier { secrets: Vec<String>, tolerance: Duration }
impl Verifier {
    pub fn new(secrets: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self { secrets: secrets.into_iter().map(Into::into).collect(), tolerance: Duration::from_secs(300) }
    }
    pub fn tolerance(mut self, t: Duration) -> Self { self.tolerance = t; self }
    pub fn verify_bytes(&self, header: Option<&[u8]>, payload: &[u8]) -> Result<(), Error> {
        let header = header.ok_or(Error::SignatureHeaderMissing)?;
        let header = std::str::from_utf8(header).map_err(|_| Error::SignatureHeaderMalformed("utf8".into()))?;
        let mut t = None; let mut v1 = vec![];
        for item in header.split(',') {
            let (k, v) = item.trim().split_once('=').ok_or(Error::SignatureHeaderMalformed("pair".into()))?;
            if k == "t" { t = Some(v.parse::<i64>().map_err(|_| Error::SignatureHeaderMalformed("t".into()))?) }
            if k == "v1" { v1.push(v.to_owned()) }
        }
        let t = t.ok_or(Error::SignatureHeaderMalformed("no t".into()))?;
        if v1.is_empty() { return Err(Error::NoV1Signature) }
        let now = chrono::Utc::now().timestamp();
        if !self.tolerance.is_zero() && t.abs_diff(now) > self.tolerance.as_secs() {
            return Err(Error::TimestampOutsideTolerance { timestamp: t, now, tolerance: self.tolerance });
        }
        for s in &self.secrets {
            for sig in &v1 {
                let Ok(bytes) = hex::decode(sig) else { continue };
                let mut mac = Hmac::<Sha256>::new_from_slice(s.as_bytes()).unwrap();
                mac.update(t.to_string().as_bytes()); mac.update(b"."); mac.update(payload);
                if mac.verify_slice(&bytes).is_ok() { return Ok(()) }
            }
        }
        Err(Error::NoMatchingSignature)
    }
}
pub fn sign(secret: &str, t: i64, payload: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(t.to_string().as_bytes()); mac.update(b"."); mac.update(payload);
    hex::encode(mac.finalize().into_bytes())
}
