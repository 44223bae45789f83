//! The provider's HTTP endpoints, all under the issuer's path.

mod approval;
mod assets;
mod authorize;
// Public for the fuzz targets (fuzz/): the parsers of what clients send.
pub mod browser_binding;
pub mod client_address;
pub mod client_auth;
mod complete;
mod cors;
mod device;
mod discovery;
mod health;
mod introspect;
mod jwks;
mod login;
mod login_throttle;
mod logout;
mod oauth_error;
pub mod params;
mod pkce;
mod post_logout_redirect;
mod redirect;
mod refresh_policy;
mod revoke;
mod saml;
mod scopes;
pub mod sessions;
mod state;
mod token;
mod upstream;
mod userinfo;

use std::sync::Arc;

use axum::routing::get;
use axum::Router;

pub use discovery::document as discovery_document;
pub use state::AppState;

/// Every route, nested under the issuer's path (`/dex` for `http://host/dex`).
pub fn router(state: Arc<AppState>) -> Router {
    // The endpoints Dex opens to browsers on other origins (`web.allowedOrigins`).
    let browser_facing = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(discovery::discovery),
        )
        .route("/keys", get(jwks::jwks))
        .route("/token", axum::routing::post(token::token))
        .route("/token/revoke", axum::routing::post(revoke::revoke))
        .route(
            "/token/introspect",
            axum::routing::post(introspect::introspect),
        )
        .route(
            "/userinfo",
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(state.config.web.cors.clone()),
            cors::cors,
        ));
    let device = if state
        .config
        .oauth2
        .grant_types
        .enabled(crate::config::GrantType::DeviceCode)
    {
        Router::new()
            .route("/device/code", axum::routing::post(device::device_code))
            .route("/device", get(device::page))
            .route(
                "/device/auth/verify_code",
                axum::routing::post(device::verify),
            )
            .route("/device/token", axum::routing::post(token::device_token))
    } else {
        Router::new()
    };
    let routes = Router::new()
        .merge(browser_facing)
        .merge(device)
        .route("/auth", get(authorize::authorize))
        .route("/auth/{connector}", get(login::show).post(login::submit))
        .route("/approval", get(approval::show).post(approval::submit))
        .route("/logout", get(logout::get).post(logout::post))
        .route("/revocations", get(sessions::feed::revocations))
        // One redirect URI for every connector: OIDC/Microsoft come back with a GET, SAML with
        // an HTTP-POST binding form (whose body may exceed the server-wide limit).
        .route(
            "/callback",
            get(upstream::callback).merge(axum::routing::post(saml::callback).layer(
                axum::extract::DefaultBodyLimit::max(saml::MAX_CALLBACK_BODY_BYTES),
            )),
        )
        .route("/healthz", get(health::healthz))
        .route("/saml/{connector}/metadata", get(saml::metadata))
        .route("/static/{*path}", get(assets::static_file))
        .route("/theme/{*path}", get(assets::theme_file))
        .with_state(state.clone())
        // Every page gets the configured name, logo and theme (`frontend:`).
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(crate::web::Branding::new(
                &state.config.frontend,
                &state.config.issuer.path,
            )),
            crate::web::brand_pages,
        ));
    let path = state.config.issuer.path.clone();
    if path.is_empty() {
        routes
    } else {
        Router::new().nest(&path, routes)
    }
}
