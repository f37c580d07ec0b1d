// Runs an Argo CD health script (deploy/argocd/<group>/<kind>/health.lua) with a real Lua 5.4,
// the way Argo CD does: the object as the global `obj`, the script's returned table as the health.
// Lua has no JSON, so the object goes in as a Lua table literal and the result comes out through a
// small JSON encoder in the harness.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const LUA = process.env['LIFEBOAT_LUA'] ?? 'lua5.4';

export interface Health {
  readonly status: string;
  readonly message?: string;
}

/** A Lua string literal: printable ASCII as is, every other byte as a decimal escape. */
function luaString(text: string): string {
  let out = '"';
  for (const byte of Buffer.from(text, 'utf8')) {
    const printable = byte >= 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x5c;
    out += printable ? String.fromCharCode(byte) : `\\${byte.toString().padStart(3, '0')}`;
  }
  return `${out}"`;
}

/** A JSON value as a Lua value; null becomes nil, which leaves the key out as Kubernetes does. */
export function luaLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'nil';
  if (typeof value === 'string') return luaString(value);
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`cannot pass ${value} to Lua`);
    return String(value);
  }
  if (Array.isArray(value)) return `{${value.map(luaLiteral).join(', ')}}`;
  if (typeof value === 'object') {
    const fields = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `[${luaString(k)}] = ${luaLiteral(v)}`);
    return `{${fields.join(', ')}}`;
  }
  throw new Error(`cannot pass a ${typeof value} to Lua`);
}

const ENCODER = `
local function encode(v)
  local t = type(v)
  if t == "string" then
    return '"' .. v:gsub('[%c"\\\\]', function(c) return string.format("\\\\u%04x", c:byte()) end) .. '"'
  elseif t == "number" or t == "boolean" then
    return tostring(v)
  elseif t == "nil" then
    return "null"
  elseif t == "table" then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
    local parts = {}
    for _, k in ipairs(keys) do parts[#parts + 1] = encode(k) .. ":" .. encode(v[k]) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  error("cannot encode a " .. t)
end
`;

/** Runs `script` on `object`; throws, saying how to install Lua, when there is no interpreter. */
export function runHealth(script: string, object: unknown): Health {
  const harness = `${ENCODER}
obj = ${luaLiteral(object)}
local chunk = assert(loadfile(${luaString(script)}))
local hs = chunk()
if type(hs) ~= "table" then error("the health script returned " .. type(hs) .. ", not a table") end
io.write(encode(hs))
`;
  // A file, not stdin: not every Lua reads its program from '-' (gopher-lua's glua does not).
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-lua-'));
  const file = join(dir, 'harness.lua');
  writeFileSync(file, harness);
  const run = spawnSync(LUA, [file], { encoding: 'utf8', timeout: 10_000 });
  rmSync(dir, { recursive: true, force: true });
  if (run.error && (run.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error(
      `${LUA} is not installed; the Argo CD health checks are tested with a real Lua interpreter: ` +
        'run apt-get install -y lua5.4 (or set LIFEBOAT_LUA to a Lua 5.1-5.4 interpreter)',
    );
  }
  if (run.error) throw run.error;
  if (run.status !== 0) throw new Error(`${LUA} failed on ${script} (exit ${run.status}): ${run.stderr}`);
  return JSON.parse(run.stdout) as Health;
}
