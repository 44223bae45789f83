//! Part 4's figures: what criterion wrote for `filter/benches/hot_path.rs` (run by
//! `make bench` just before this program).

use std::path::Path;

/// One criterion benchmark's median time per iteration.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Micro {
    pub name: String,
    pub median_ns: f64,
}

/// Medians from `<target>/criterion/hot_path/*/new/estimates.json`, sorted by name;
/// empty when criterion has not run.
pub fn read(target: &Path) -> Vec<Micro> {
    let group = target.join("criterion").join("hot_path");
    let Ok(entries) = std::fs::read_dir(&group) else {
        return Vec::new();
    };
    let mut out: Vec<Micro> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let text = std::fs::read_to_string(e.path().join("new").join("estimates.json")).ok()?;
            let v: serde_json::Value = serde_json::from_str(&text).ok()?;
            Some(Micro {
                name: e.file_name().to_string_lossy().into_owned(),
                median_ns: v["median"]["point_estimate"].as_f64()?,
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}
