//! Server-rendered HTML pages: login form, connector chooser, approval, signed out, errors;
//! the frame that brands them (`frontend:`), and the static and theme files they load.
//! Every interpolated value goes through [`escape`].

mod approval;
mod asset_path;
mod assets;
mod branding;
mod builtin;
mod chooser;
mod device;
mod error_page;
mod escape;
mod frame;
mod layout;
mod login;
mod not_allowed;
mod saml_post;
mod signed_out;
mod throttled;

pub use approval::approval_page;
pub use assets::{asset_response, Area, MAX_FILE_BYTES};
pub use branding::Branding;
pub use chooser::{chooser_page, ConnectorLink};
pub use device::{device_approved_page, device_code_page, device_denied_page};
pub use error_page::{error_page, storage_error_page};
pub use escape::escape;
pub use frame::brand_pages;
pub use layout::{html_response, Page};
pub use login::{login_page, LoginForm};
pub use not_allowed::not_allowed_page;
pub use saml_post::saml_post_page;
pub use signed_out::signed_out_page;
pub use throttled::throttled_page;
