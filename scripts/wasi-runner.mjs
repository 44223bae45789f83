// Runs a wasm32-wasip1 test binary under Node's WASI, so the filter's logic is tested as the
// same wasm code Envoy and Kong run. Cargo calls it as the target's runner.
// The proxy-wasm host functions the glue imports are not available here: each is a stub
// that throws, so a test that reaches the host fails loudly instead of passing silently.
import { readFile } from "node:fs/promises";
import { WASI } from "node:wasi";
import process from "node:process";

const [file, ...args] = process.argv.slice(2);
const wasi = new WASI({ version: "preview1", args: [file, ...args], env: { RUST_BACKTRACE: "0" }, returnOnExit: true });
const module = await WebAssembly.compile(await readFile(file));
const imports = wasi.getImportObject();
for (const imp of WebAssembly.Module.imports(module)) {
  if (imp.kind !== "function" || imp.module in imports && imp.name in imports[imp.module]) continue;
  imports[imp.module] ??= {};
  imports[imp.module][imp.name] = () => { throw new Error(`host function ${imp.module}.${imp.name} called in a test`); };
}
const instance = await WebAssembly.instantiate(module, imports);
// proxy-wasm's entry macro also exports `_initialize`; a test binary is a command (`_start`),
// and node refuses modules exporting both, so it is hidden here.
const { _initialize, ...exports } = instance.exports;
process.exitCode = wasi.start({ exports });
