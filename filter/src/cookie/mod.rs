//! Cookies as the filter writes them: the `Cookie`/`Set-Cookie` header syntax, and the
//! sealed (encrypted, authenticated) values the session and login cookies carry.

pub mod codec;
pub mod header;
