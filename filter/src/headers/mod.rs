//! Request headers at the filter's edges: the identity headers the upstream gets, and the
//! client's headers read the same way on every host (forged identity headers refused), from
//! the host's header map read in place.

pub mod identity;
pub mod pairs;
pub mod request;
