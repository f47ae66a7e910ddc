// wait_for: waits, on the host, until a TCP port accepts connections (or stops), a file exists (holding a
// match of search_regex) or is gone, or just for `timeout` seconds — Ansible's wait_for
// (ansible/modules/wait_for.py): delay, then a check every `sleep` seconds until `timeout`, failing with
// Ansible's messages. Each check is one remote command; the regex (Python's, MULTILINE) is matched here.
import { defineTask, type Target } from '../src/task.ts'
import { pyRegExp } from '../src/util.ts'
import { FileContent, PathStat } from '../facts/files.ts'

interface WaitForArgs {
  host?: string
  port?: number
  path?: string
  state?: 'started' | 'present' | 'stopped' | 'absent'
  search_regex?: string
  delay?: number
  timeout?: number
  sleep?: number
  connect_timeout?: number
  msg?: string
}

const sleep = (s: number) => new Promise((resolve) => setTimeout(resolve, s * 1000))

// bash's /dev/tcp: a connect from the host itself, bounded by `timeout` (as socket.create_connection's).
const connectScript = 'timeout "$3" bash -c \'exec 3<>"/dev/tcp/$1/$2"\' _ "$1" "$2" 2>/dev/null'

async function portOpen(host: Target, address: string, port: number, connectTimeout: number): Promise<boolean> {
  const r = await host.$({
    nothrow: true,
  })`sh -c ${connectScript} sh ${address} ${String(port)} ${String(connectTimeout)}`
  return r.code === 0
}

export default defineTask<WaitForArgs>({
  name: 'wait_for',
  description: 'wait until a port is open (or closed), a file exists (with a match) or is gone, or a time',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      host: { type: 'string', minLength: 1, description: 'an address the host connects to' },
      port: { type: 'integer', minimum: 1, maximum: 65535, description: 'a TCP port' },
      path: { type: 'string', minLength: 1, description: 'a remote path' },
      state: { enum: ['started', 'present', 'stopped', 'absent'], description: 'started, present, stopped or absent' },
      search_regex: { type: 'string', description: 'a Python regular expression (with path)' },
      delay: { type: 'number', minimum: 0, description: 'seconds' },
      timeout: { type: 'number', minimum: 0, description: 'seconds' },
      sleep: { type: 'number', minimum: 0, description: 'seconds' },
      connect_timeout: { type: 'number', minimum: 0, description: 'seconds' },
      msg: { type: 'string', description: 'the message on timeout' },
    },
  },
  checkInputs(args) {
    if (args.port !== undefined && args.path !== undefined)
      throw new Error('port and path parameter can not both be passed to wait_for')
    if (args.path !== undefined && args.state === 'stopped')
      throw new Error('state=stopped should only be used for checking a port in the wait_for module')
    if (args.search_regex !== undefined && args.path === undefined)
      throw new Error('search_regex is supported with path only (not on a port)')
    if (args.search_regex !== undefined) pyRegExp(args.search_regex, 'm')
  },
  async run(host, args) {
    const state = args.state ?? 'started'
    const timeout = args.timeout ?? 300
    const address = args.host ?? '127.0.0.1'
    const started = Date.now()
    const elapsed = () => Math.floor((Date.now() - started) / 1000)
    const end = started + timeout * 1000
    const regex = args.search_regex !== undefined ? pyRegExp(args.search_regex, 'm') : undefined
    let match: RegExpExecArray | null = null
    const result = () => ({
      changed: false,
      data: {
        state,
        port: args.port ?? null,
        search_regex: args.search_regex ?? null,
        match_groups: match ? match.slice(1) : [],
        match_groupdict: match?.groups ? { ...match.groups } : {},
        path: args.path ?? null,
        elapsed: elapsed(),
      },
    })
    // As AnsibleModule.exit_json's add_path_info: a result naming an existing path says what it is.
    const withPath = async () => {
      const r = result()
      if (args.path === undefined) return r
      const s = await host.fact(PathStat, '0', 'none', '0', '0', args.path)
      if (!s) return r
      const type = s.mode & 0o170000
      Object.assign(r.data, {
        uid: s.uid,
        gid: s.gid,
        ...(s.owner !== undefined ? { owner: s.owner } : {}),
        ...(s.group !== undefined ? { group: s.group } : {}),
        mode: `0${(s.mode & 0o7777).toString(8).padStart(3, '0')}`,
        state: type === 0o120000 ? 'link' : type === 0o040000 ? 'directory' : s.nlink > 1 ? 'hard' : 'file',
        size: s.size,
      })
      return r
    }
    const fail = (why: string) => ({ changed: false, failed: true, msg: args.msg ?? why, data: { elapsed: elapsed() } })
    if (args.delay) await sleep(args.delay)
    if (args.port === undefined && args.path === undefined) {
      await sleep(timeout)
      return result()
    }
    const present = async () => {
      if (args.path !== undefined) {
        const content = await host.fact(FileContent, args.path)
        if (content === undefined) return false
        if (!regex) return true
        match = regex.exec(content)
        return match !== null
      }
      return portOpen(
        host,
        address,
        args.port!,
        Math.min(args.connect_timeout ?? 5, Math.max(1, Math.ceil((end - Date.now()) / 1000))),
      )
    }
    if (state === 'absent' || state === 'stopped') {
      while (Date.now() < end) if (!(await present())) return withPath()
      return fail(
        args.path !== undefined
          ? `Timeout when waiting for ${args.path} to be absent.`
          : `Timeout when waiting for ${address}:${args.port} to stop.`,
      )
    }
    while (Date.now() < end) {
      if (await present()) return withPath()
      await sleep(args.sleep ?? 1)
    }
    if (args.path !== undefined)
      return fail(
        regex
          ? `Timeout when waiting for search string ${args.search_regex} in ${args.path}`
          : `Timeout when waiting for file ${args.path}`,
      )
    return fail(`Timeout when waiting for ${address}:${args.port}`)
  },
})
