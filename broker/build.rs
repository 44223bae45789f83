//! Generates the gRPC server and client for Dex's API from `proto/dex_api.proto`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // prost-build finds protoc through this variable; set for this build script only.
    std::env::set_var("PROTOC", protoc);
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    println!("cargo:rerun-if-changed=proto/dex_api.proto");
    tonic_prost_build::configure()
        .file_descriptor_set_path(out.join("dex_api_descriptor.bin"))
        .compile_protos(&["proto/dex_api.proto"], &["proto"])?;
    Ok(())
}
