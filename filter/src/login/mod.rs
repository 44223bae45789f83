//! A login in flight between the redirect to the broker and the callback: its state cookie
//! and the PKCE proof that binds the code to it.

pub mod pkce;
pub mod state;
