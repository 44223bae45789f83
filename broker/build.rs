//! Generates the gRPC servers and clients for Dex's API (`proto/dex_api.proto`) and
//! Gatehouse's session service (`proto/gatehouse_sessions.proto`).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // prost-build finds protoc through this variable; set for this build script only.
    std::env::set_var("PROTOC", protoc);
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    println!("cargo:rerun-if-changed=proto/dex_api.proto");
    println!("cargo:rerun-if-changed=proto/gatehouse_sessions.proto");
    tonic_prost_build::configure()
        .file_descriptor_set_path(out.join("dex_api_descriptor.bin"))
        .compile_protos(
            &["proto/dex_api.proto", "proto/gatehouse_sessions.proto"],
            &["proto"],
        )?;
    Ok(())
}
