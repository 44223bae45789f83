//! Dex's gRPC administration API (`api.Dex`, `broker/proto/dex_api.proto`): users of the
//! password database, clients and refresh tokens, managed at run time. Served by
//! `gatehouse-broker serve` when the config has a `grpc:` block; the `users`/`clients`
//! subcommands are its client.

mod audit;
mod bcrypt_hash;
pub mod client;
mod server;
mod service;
mod subject;

pub use server::{spawn_api, StartError};

/// The generated messages, server and client.
pub mod proto {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("api");

    /// The compiled proto, for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("dex_api_descriptor");
}

/// Dex's `apiVersion` as of v2.45 (clients compare it to know which calls exist).
pub const API_VERSION: i32 = 3;

/// Largest request accepted, in bytes: the biggest legitimate one (a client with many redirect
/// URIs) is a few KiB; tonic's default would be 4 MiB.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;
