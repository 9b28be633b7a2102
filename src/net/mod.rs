//! Network primitives for checks that run on the host kdc runs on (not inside a node): ask one
//! name server ([`dns`]), ping one address ([`icmp`]).
//!
//! They know nothing about suites or clusters: each does one exchange and returns what came
//! back, or an error that names its input and says what to fix. The runner decides what a
//! result means.

pub mod dns;
pub mod icmp;
