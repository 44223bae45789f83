//! Request headers at the filter's edges: the identity headers the upstream gets, and the
//! client's headers read the same way on every host (forged identity headers refused).

pub mod identity;
pub mod request;
