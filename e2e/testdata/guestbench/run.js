const { WASI } = require('node:wasi');
const fs = require('node:fs');
(async () => {
  const [wasmPath, ...args] = process.argv.slice(2);
  const wasi = new WASI({ version: 'preview1', args: ['guestbench', ...args], env: {}, returnOnExit: true });
  const module = await WebAssembly.compile(fs.readFileSync(wasmPath));
  const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
  process.exitCode = wasi.start(instance);
})();
