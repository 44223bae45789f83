//! Upstream identity sources behind one trait.

mod identity;

pub use identity::Identity;
