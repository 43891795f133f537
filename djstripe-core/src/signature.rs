//! placeholder
/// placeholder
pub struct Verifier;
