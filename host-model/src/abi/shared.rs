//! Shared data and shared queues (ngx_proxy_wasm_hfuncs_get_shared_data,
//! ngx_proxy_wasm_hfuncs_set_shared_data, ngx_proxy_wasm_hfuncs_register_shared_queue in
//! src/common/proxy_wasm/ngx_proxy_wasm_host.c; the store is `shared_kv.rs`).
//! Kong configures `shm_kv` zones only, never a queue zone: registering or using a queue traps
//! ("could not find queue"), `proxy_resolve_shared_queue` is not implemented (a trap), and
//! `on_queue_ready` never fires.

use anyhow::Result;
use wasmtime::Linker;

use super::memory::{give, read, read_string, write_u32, Ctx};
use super::{status, trap};
use crate::shared_kv::SetResult;
use crate::state::HostState;

pub fn link(linker: &mut Linker<HostState>) -> Result<()> {
    linker.func_wrap("env", "proxy_get_shared_data", get_shared_data)?;
    linker.func_wrap("env", "proxy_set_shared_data", set_shared_data)?;
    linker.func_wrap(
        "env",
        "proxy_register_shared_queue",
        |_: Ctx<'_>, _: i32, _: i32, _: i32| -> Result<i32> {
            Err(trap("bad usage", "could not find queue"))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_enqueue_shared_queue",
        |_: Ctx<'_>, _: i32, _: i32, _: i32| -> Result<i32> {
            Err(trap("bad usage", "could not find queue"))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_dequeue_shared_queue",
        |_: Ctx<'_>, _: i32, _: i32, _: i32| -> Result<i32> {
            Err(trap("bad usage", "could not find queue"))
        },
    )?;
    Ok(())
}

fn get_shared_data(
    mut c: Ctx<'_>,
    kp: i32,
    kl: i32,
    ret_ptr: i32,
    ret_len: i32,
    ret_cas: i32,
) -> Result<i32> {
    let key = read_string(&mut c, kp, kl)?;
    let found = c
        .data()
        .shared
        .get(&key)
        .map_err(|e| trap("bad usage", e))?;
    let Some((value, cas)) = found else {
        return Ok(status::NOT_FOUND);
    };
    give(&mut c, &value, ret_ptr, ret_len)?;
    write_u32(&mut c, ret_cas, cas)?;
    Ok(status::OK)
}

fn set_shared_data(mut c: Ctx<'_>, kp: i32, kl: i32, vp: i32, vl: i32, cas: i32) -> Result<i32> {
    let key = read_string(&mut c, kp, kl)?;
    // A null value pointer deletes; an empty value at a real pointer is a value.
    let value = if vp == 0 {
        None
    } else {
        Some(read(&mut c, vp, vl)?)
    };
    let written = c
        .data()
        .shared
        .set(&key, value.as_deref(), cas as u32)
        .map_err(|e| trap("bad usage", e))?;
    Ok(match written {
        SetResult::Written => status::OK,
        SetResult::CasMismatch => status::CAS_MISMATCH,
    })
}
