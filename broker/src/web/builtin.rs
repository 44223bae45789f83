//! The files built into the binary, laid out as Dex's `web/` directory: `static/main.css`
//! (layout) and `themes/{light,dark}/` (`styles.css`, `logo.png`, `favicon.png`). They serve
//! whatever `frontend.dir` does not have.

use super::asset_path::Area;

const MAIN_CSS: &[u8] = include_bytes!("static/main.css");
const LIGHT_STYLES: &[u8] = include_bytes!("themes/light/styles.css");
const LIGHT_LOGO: &[u8] = include_bytes!("themes/light/logo.png");
const LIGHT_FAVICON: &[u8] = include_bytes!("themes/light/favicon.png");
const DARK_STYLES: &[u8] = include_bytes!("themes/dark/styles.css");
const DARK_LOGO: &[u8] = include_bytes!("themes/dark/logo.png");
const DARK_FAVICON: &[u8] = include_bytes!("themes/dark/favicon.png");

/// The built-in file at `path`; a theme of the user's own falls back on `light` (Dex's default).
pub fn file(area: Area, theme: &str, path: &str) -> Option<&'static [u8]> {
    match area {
        Area::Static => (path == "main.css").then_some(MAIN_CSS),
        Area::Theme => match (theme == "dark", path) {
            (false, "styles.css") => Some(LIGHT_STYLES),
            (false, "logo.png") => Some(LIGHT_LOGO),
            (false, "favicon.png") => Some(LIGHT_FAVICON),
            (true, "styles.css") => Some(DARK_STYLES),
            (true, "logo.png") => Some(DARK_LOGO),
            (true, "favicon.png") => Some(DARK_FAVICON),
            _ => None,
        },
    }
}
