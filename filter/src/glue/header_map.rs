//! The request's header map as the one buffer the host writes, for `headers::pairs` to read in
//! place. The SDK's `get_http_request_headers` copies every name and value into its own
//! `String` (two allocations per header on every request) and panics on a value that is not
//! UTF-8, which a client can send; this makes the same host call and keeps the buffer.

use std::ptr::null_mut;

use proxy_wasm::types::{MapType, Status};

#[link(wasm_import_module = "env")]
extern "C" {
    // The host call the SDK's `hostcalls::get_map` makes, declared as the SDK declares it.
    fn proxy_get_header_map_pairs(
        map_type: MapType,
        return_map_data: *mut *mut u8,
        return_map_size: *mut usize,
    ) -> Status;
}

/// The serialized request header map; `None` when the host refused the call.
pub(super) fn request_headers() -> Option<Vec<u8>> {
    let mut data: *mut u8 = null_mut();
    let mut size: usize = 0;
    // SAFETY: the host writes a pointer and a length; the memory behind the pointer was
    // allocated through the SDK's `proxy_on_memory_allocate` (a `Vec<u8>` of exactly `size`
    // bytes, forgotten), which is how the SDK's own reader takes it back.
    unsafe {
        match proxy_get_header_map_pairs(MapType::HttpRequestHeaders, &mut data, &mut size) {
            Status::Ok if data.is_null() => Some(Vec::new()),
            Status::Ok => Some(Vec::from_raw_parts(data, size, size)),
            _ => None,
        }
    }
}
