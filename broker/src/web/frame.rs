//! The layer that brands every page: a response carrying a [`Page`] is rendered again with
//! the configured [`Branding`] (name, logo, the logo's origin in the policy).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::branding::Branding;
use super::layout::Page;

pub async fn brand_pages(
    State(branding): State<Arc<Branding>>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    if let Some(page) = response.extensions_mut().remove::<Page>() {
        page.apply(&branding, &mut response);
    }
    response
}
