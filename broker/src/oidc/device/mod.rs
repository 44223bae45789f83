//! The device authorization grant (RFC 8628) as Dex serves it: a device asks `/device/code`
//! for a device code and a user code, the user enters the user code at `/device` and signs in
//! through the usual connectors and approval page, and the device polls the token endpoint
//! with `grant_type=urn:ietf:params:oauth:grant-type:device_code` until the user decided.
//! Only hashes of both codes are stored.

mod authorization;
mod finish;
mod user_code;
mod verify;

pub use authorization::device_code;
pub use finish::{approved, denied};
pub use verify::{page, verify};

/// RFC 8628 §3.2's default, and Dex's: seconds a device waits between polls.
pub const INTERVAL_SECS: i64 = 5;

/// Unauthenticated user-code attempts per client address and minute: a code has ~34 bits,
/// so guessing one takes billions of tries, and this keeps a single address to a trickle.
pub const USER_CODE_ATTEMPTS_PER_MINUTE: i64 = 10;
