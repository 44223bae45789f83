//! A host property as the one buffer the host writes. The SDK's `get_property` takes the path
//! as a `Vec<&str>` and serializes it into a second `Vec` on every call, and the caller then
//! copied the value into a `String`; on Kong's host the raw request target is read this way
//! on every request. Here the path is written once, as the host reads it, and the value is
//! handed back as the host's buffer. Unlike the SDK's reader, no status panics: anything but
//! a value reads as absent.

use std::ptr::null_mut;

use proxy_wasm::types::Status;

#[link(wasm_import_module = "env")]
extern "C" {
    // The host call the SDK's `hostcalls::get_property` makes, declared as the SDK declares it.
    fn proxy_get_property(
        path_data: *const u8,
        path_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
    ) -> Status;
}

/// A property path as the host reads it: its parts joined by NUL bytes.
pub(super) struct Path(&'static [u8]);

/// `request.path`: the raw request target on nginx hosts.
pub(super) const REQUEST_PATH: Path = Path(b"request\0path");
/// `ngx.server_name`: present only on nginx hosts.
pub(super) const NGX_SERVER_NAME: Path = Path(b"ngx\0server_name");

/// The property's value; `None` when the host has none or refused the call.
pub(super) fn get(path: &Path) -> Option<Vec<u8>> {
    let mut data: *mut u8 = null_mut();
    let mut size: usize = 0;
    // SAFETY: the path is a live static slice; the host writes a pointer and a length, and
    // the memory behind the pointer was allocated through the SDK's
    // `proxy_on_memory_allocate` (a boxed slice of exactly `size` bytes), which is how the
    // SDK's own reader takes it back.
    unsafe {
        match proxy_get_property(path.0.as_ptr(), path.0.len(), &mut data, &mut size) {
            Status::Ok if !data.is_null() => Some(Vec::from_raw_parts(data, size, size)),
            _ => None,
        }
    }
}
