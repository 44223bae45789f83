//! The WASI preview1 subset ngx_wasm_module implements itself
//! (src/wasm/wasi/ngx_wasi_preview1_host.c): no arguments, no environment, wall and monotonic
//! clocks, random bytes, stdout/stderr to the log, no files.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, Result};
use wasmtime::Linker;

use super::memory::{read, write, write_u32, Ctx};
use crate::logger::Level;
use crate::state::HostState;

const SUCCESS: i32 = 0;
const BADF: i32 = 8;
const NOTDIR: i32 = 54;
const NOTSUP: i32 = 58;

const MODULE: &str = "wasi_snapshot_preview1";

pub fn link(linker: &mut Linker<HostState>) -> Result<()> {
    let zero_sizes = |mut c: Ctx<'_>, count: i32, size: i32| -> Result<i32> {
        write_u32(&mut c, count, 0)?;
        write_u32(&mut c, size, 0)?;
        Ok(SUCCESS)
    };
    linker.func_wrap(MODULE, "args_sizes_get", zero_sizes)?;
    linker.func_wrap(MODULE, "environ_sizes_get", zero_sizes)?;
    linker.func_wrap(MODULE, "args_get", |_: Ctx<'_>, _: i32, _: i32| SUCCESS)?;
    linker.func_wrap(MODULE, "environ_get", |_: Ctx<'_>, _: i32, _: i32| SUCCESS)?;
    linker.func_wrap(MODULE, "clock_time_get", clock_time_get)?;
    linker.func_wrap(MODULE, "random_get", random_get)?;
    linker.func_wrap(MODULE, "fd_write", fd_write)?;
    linker.func_wrap(
        MODULE,
        "fd_read",
        |_: Ctx<'_>, _: i32, _: i32, _: i32, _: i32| BADF,
    )?;
    linker.func_wrap(MODULE, "fd_close", |_: Ctx<'_>, _: i32| BADF)?;
    linker.func_wrap(MODULE, "fd_fdstat_get", |_: Ctx<'_>, _: i32, _: i32| BADF)?;
    linker.func_wrap(MODULE, "fd_prestat_get", |_: Ctx<'_>, _: i32, _: i32| BADF)?;
    linker.func_wrap(
        MODULE,
        "fd_prestat_dir_name",
        |_: Ctx<'_>, _: i32, _: i32, _: i32| BADF,
    )?;
    linker.func_wrap(
        MODULE,
        "fd_seek",
        |_: Ctx<'_>, _: i32, _: i64, _: i32, _: i32| BADF,
    )?;
    linker.func_wrap(
        MODULE,
        "path_open",
        |_: Ctx<'_>, _: i32, _: i32, _: i32, _: i32, _: i32, _: i64, _: i64, _: i32, _: i32| NOTDIR,
    )?;
    linker.func_wrap(MODULE, "proc_exit", |_: Ctx<'_>, code: i32| -> Result<()> {
        Err(anyhow!("proc_exit({code})"))
    })?;
    Ok(())
}

fn clock_time_get(mut c: Ctx<'_>, id: i32, _precision: i64, ret: i32) -> Result<i32> {
    let nanos = match id {
        0 => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
        1 => {
            thread_local!(static START: Instant = Instant::now());
            START.with(|s| s.elapsed().as_nanos() as u64)
        }
        _ => return Ok(NOTSUP),
    };
    write(&mut c, ret as u32, &nanos.to_le_bytes())?;
    Ok(SUCCESS)
}

fn random_get(mut c: Ctx<'_>, ptr: i32, len: i32) -> Result<i32> {
    let mut buf = vec![0u8; len as u32 as usize];
    getrandom::getrandom(&mut buf).map_err(|e| anyhow!("random_get: {e}"))?;
    write(&mut c, ptr as u32, &buf)?;
    Ok(SUCCESS)
}

fn fd_write(mut c: Ctx<'_>, fd: i32, iovs: i32, iovs_len: i32, nwritten: i32) -> Result<i32> {
    if fd != 1 && fd != 2 {
        return Ok(BADF);
    }
    let table = read(&mut c, iovs, iovs_len.saturating_mul(8))?;
    let mut text = Vec::new();
    for iov in table.chunks_exact(8) {
        let ptr = i32::from_le_bytes([iov[0], iov[1], iov[2], iov[3]]);
        let len = i32::from_le_bytes([iov[4], iov[5], iov[6], iov[7]]);
        text.extend(read(&mut c, ptr, len)?);
    }
    let level = if fd == 2 { Level::Error } else { Level::Info };
    let message = String::from_utf8_lossy(&text);
    c.data()
        .log
        .log(level, &format!("[wasm] {}", message.trim_end()));
    write_u32(&mut c, nwritten, text.len() as u32)?;
    Ok(SUCCESS)
}
