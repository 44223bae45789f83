//! Reading and writing the filter's linear memory, and allocating in it through the filter's
//! own allocator (`proxy_on_memory_allocate`, as ngx_proxy_wasm_alloc does).

use anyhow::{anyhow, bail, Result};
use wasmtime::{Caller, Extern, Memory};

use crate::state::HostState;

pub type Ctx<'a> = Caller<'a, HostState>;

fn memory(caller: &mut Ctx<'_>) -> Result<Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(m)) => Ok(m),
        _ => bail!("the filter exports no memory"),
    }
}

pub fn read(caller: &mut Ctx<'_>, ptr: i32, len: i32) -> Result<Vec<u8>> {
    let mem = memory(caller)?;
    let (ptr, len) = (ptr as u32 as usize, len as u32 as usize);
    let data = mem.data(&caller);
    data.get(ptr..ptr.checked_add(len).ok_or_else(|| anyhow!("bad slice"))?)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| anyhow!("slice {ptr}+{len} outside the filter's memory"))
}

pub fn read_string(caller: &mut Ctx<'_>, ptr: i32, len: i32) -> Result<String> {
    Ok(String::from_utf8_lossy(&read(caller, ptr, len)?).into_owned())
}

pub fn write(caller: &mut Ctx<'_>, ptr: u32, bytes: &[u8]) -> Result<()> {
    let mem = memory(caller)?;
    mem.write(caller, ptr as usize, bytes)
        .map_err(|_| anyhow!("write at {ptr} outside the filter's memory"))
}

pub fn write_u32(caller: &mut Ctx<'_>, ptr: i32, value: u32) -> Result<()> {
    write(caller, ptr as u32, &value.to_le_bytes())
}

/// Copies `bytes` into memory the filter allocates and stores pointer and size at `ret_ptr` and
/// `ret_len`.
pub fn give(caller: &mut Ctx<'_>, bytes: &[u8], ret_ptr: i32, ret_len: i32) -> Result<()> {
    let alloc = caller
        .get_export("proxy_on_memory_allocate")
        .or_else(|| caller.get_export("malloc"))
        .and_then(Extern::into_func)
        .ok_or_else(|| anyhow!("the filter exports no proxy_on_memory_allocate"))?;
    let alloc = alloc.typed::<i32, i32>(&caller)?;
    let ptr = alloc.call(&mut *caller, bytes.len() as i32)? as u32;
    if ptr == 0 {
        bail!("the filter could not allocate {} bytes", bytes.len());
    }
    write(caller, ptr, bytes)?;
    write_u32(caller, ret_ptr, ptr)?;
    write_u32(caller, ret_len, bytes.len() as u32)
}
