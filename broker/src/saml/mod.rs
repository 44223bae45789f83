//! SAML 2.0 service-provider protocol core: no I/O, no storage, no clock of its own.
//! The connector (`connector::saml`) and the HTTP handlers (`oidc::saml`) drive it.

pub mod authn_request;
mod dom;
mod idp_metadata;
mod names;
mod pem;
pub mod response;
#[cfg(test)]
mod response_tests;
mod signature;
mod sp_metadata;
mod time;
mod xml_guard;

pub use authn_request::{AuthnRequest, AuthnRequestError};
pub use idp_metadata::{idp_metadata, IdpMetadata};
pub use pem::{load_rsa_private_key, pem_blocks};
pub use response::{validate_response, Expectations, ResponseError, ValidAssertion};
pub use signature::TrustedCerts;
pub use sp_metadata::sp_metadata;
pub use time::{format_instant, parse_instant};
pub use xml_guard::MAX_RESPONSE_BYTES;
