//! Prints `kong/gatehouse.meta.json` (Kong's filter metadata with the Draft-4 config schema):
//! `cargo run -p gatehouse-filter --features schema --example kong_meta > kong/gatehouse.meta.json`

use std::process::ExitCode;

fn main() -> ExitCode {
    match gatehouse_filter::config::schema::kong_meta() {
        Ok(meta) => match serde_json::to_string_pretty(&meta) {
            Ok(text) => {
                println!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("kong_meta: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("kong_meta: {e}");
            ExitCode::FAILURE
        }
    }
}
