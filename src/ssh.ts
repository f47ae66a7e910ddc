// The SSH transport: one node-ssh connection per host, reused by every task, with at most `maxSessions`
// channels open at once on it (sshd refuses the 11th session channel by default: MaxSessions 10); host keys
// checked against known_hosts before authenticating; ProxyJump through forwarded channels of the jump hosts'
// own connections; become through `sudo`.
//
// Secrets: the become password is written to sudo once (a second prompt means it was wrong: the command fails
// with BecomeError rather than spending more tries of pam_faillock's budget); a jump host is offered its own
// user and the key file, never the target's password or become password; no password is part of any message.
// The login user without ansible_user is the local user, as with ssh, and become as that same user runs no
// sudo.
//
// Errors: Unreachable when the host cannot be reached or the connection dies (Ansible's UNREACHABLE);
// HostKeyError when its key is unknown, changed or revoked (a failure, not unreachable: see rollout.ts);
// ExecTimeout when a command outlives its timeout. A command that exits non-zero is not an error here.
import { createHash, createPrivateKey, randomBytes, sign, type KeyObject } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { homedir, userInfo } from 'node:os'
import { join } from 'node:path'
import { NodeSSH } from 'node-ssh'
// For FileAgent only (node-ssh has no agent of its own): ssh2's agent base class and key parser. Their types:
// ssh2.d.ts.
import agent from 'ssh2/lib/agent.js'
import keyParser from 'ssh2/lib/protocol/keyParser.js'
import { appendKnownHost, checkHostKey, keyType, knownHostName, knownKeyTypes, readKnownHosts } from './known-hosts.ts'
import type { Connection } from './connection.ts'
import { isQuotedLine, isQuotedWord, quote } from './util.ts'

export interface TransportOptions {
  /** Add the keys of hosts absent from known_hosts instead of refusing them (ssh's accept-new). */
  acceptNewHostKeys?: boolean
  connectTimeoutMs?: number // TCP + handshake + authentication; default 10 s (Ansible's `timeout`)
  keepaliveIntervalMs?: number // default 5 s; after keepaliveCountMax (3) unanswered the host is unreachable
  keepaliveCountMax?: number
  maxSessions?: number // channels open at once per connection; default 10, sshd's default MaxSessions
  agent?: string // ssh-agent socket; default $SSH_AUTH_SOCK
}

export interface ExecOptions {
  input?: string | Buffer
  timeoutMs?: number
  /** Run through sudo as the become user (default: the host's ansible_become). */
  become?: boolean
  /** The command only reads the host (facts): it does not count as a change (Session.changes). */
  reads?: boolean
  /** The command is one the engine wrote from scripts the tests parse (a gather): see shellLine. */
  script?: boolean
}

export interface ExecResult {
  stdout: string
  stderr: string
  code: number
}

export class Unreachable extends Error {
  override name = 'Unreachable'
}
export class HostKeyError extends Error {
  override name = 'HostKeyError'
}
export class ExecTimeout extends Error {
  override name = 'ExecTimeout'
}
/** sudo refused the become password. */
export class BecomeError extends Error {
  override name = 'BecomeError'
}

/** The user a connection logs in as: ansible_user, else (like ssh) the local user. */
export function loginUser(target: Connection): string {
  return target.user ?? process.env.USER ?? userInfo().username
}

/** A counting semaphore: the channel budget of one connection. */
class Slots {
  private waiting: (() => void)[] = []
  constructor(private free: number) {}
  async acquire(): Promise<() => void> {
    if (this.free > 0) this.free--
    else await new Promise<void>((resolve) => this.waiting.push(resolve))
    return this.releaser()
  }
  /** A slot if one is free now, else undefined. */
  tryAcquire(): (() => void) | undefined {
    if (this.free <= 0) return undefined
    this.free--
    return this.releaser()
  }
  private releaser(): () => void {
    let released = false
    return () => {
      if (released) return
      released = true
      const next = this.waiting.shift()
      if (next) next()
      else this.free++
    }
  }
}

// Minimal view of ssh2's types (node-ssh's typings refer to ssh2's, which are not installed).
interface Channel extends NodeJS.EventEmitter {
  stderr: NodeJS.EventEmitter
  write(data: string | Buffer): boolean
  end(data?: Buffer): void
  close(): void
}
interface Sftp {
  fastPut(local: string, remote: string, options: { mode?: number }, cb: (err?: Error | null) => void): void
  fastGet(remote: string, local: string, cb: (err?: Error | null) => void): void
  open(remote: string, flags: 'w', mode: number | undefined, cb: (err: Error | undefined, handle: Buffer) => void): void
  write(handle: Buffer, data: Buffer, offset: number, length: number, position: number, cb: (err?: Error) => void): void
  close(handle: Buffer, cb: (err?: Error) => void): void
  /** The largest write the server takes in one request (OpenSSH's limits@openssh.com; ssh2's private field). */
  _maxWriteLen?: number
  on(event: 'close', listener: () => void): void
}
interface Ssh2Client extends NodeJS.EventEmitter {
  exec(command: string, cb: (err: Error | undefined, channel: Channel) => void): boolean
}

// CommonJS modules: Node's ESM loader sees their exports as one default object.
const { BaseAgent } = agent
const { parseKey } = keyParser

/**
 * An identity file as an agent in this process, one per file for the whole run. Given the file itself, ssh2
 * parses it again for every connection and signs with its PEM text, which OpenSSL 3 decodes again at every
 * signature (~2 ms of CPU per host); this signs with the key decoded once. Undefined for a key ssh2 cannot
 * read without a passphrase: that one goes to ssh2 as a file, which says why it cannot use it.
 */
class FileAgent extends BaseAgent {
  private static agents = new Map<string, Promise<FileAgent | undefined>>()

  static for(path: string): Promise<FileAgent | undefined> {
    let agent = FileAgent.agents.get(path)
    if (!agent) {
      agent = readFile(path, 'utf8').then((text) => {
        const key = parseKey(text) as { type: string; getPrivatePEM(): string } | Error
        return key instanceof Error ? undefined : new FileAgent(key, createPrivateKey(key.getPrivatePEM()))
      })
      FileAgent.agents.set(path, agent)
    }
    return agent
  }

  private constructor(
    private key: { type: string },
    private keyObject: KeyObject,
  ) {
    super()
  }

  getIdentities(cb: (err: Error | null, keys: unknown[]) => void): void {
    cb(null, [this.key])
  }

  sign(_key: unknown, data: Buffer, options: { hash?: string }, cb: (err: Error | null, signature?: Buffer) => void) {
    // The digest each key type signs with (ssh2's keyParser): none for Ed25519, the curve's for ECDSA, the one
    // negotiated (rsa-sha2-256/512) or SHA-1 for RSA.
    const curve = /^ecdsa-sha2-nistp(\d+)$/.exec(this.key.type)?.[1]
    const hash =
      this.key.type === 'ssh-ed25519'
        ? null
        : curve
          ? { '256': 'sha256', '384': 'sha384', '521': 'sha512' }[curve]!
          : (options?.hash ?? 'sha1')
    try {
      cb(null, sign(hash, data, this.keyObject))
    } catch (e) {
      cb(e as Error)
    }
  }
}

/** One connection's state, shared by every view of it (Session.withBecome): its channels, shell and SFTP. */
interface Link {
  ssh: NodeSSH
  /** node-ssh's connection (it forgets it once closed; the session still needs it to say so). */
  client: Ssh2Client
  slots: Slots
  dead?: string
  /** Rejects when the connection goes: an answer that never comes (SFTP, the shell) must not hang the run. */
  gone: Promise<never>
  shell?: Shell | false
  sftp?: Promise<Sftp>
  /** Counts what may change the host (Session.changes); shared by the connections to one address. */
  changes: { count: number }
  prelude?: Prelude
}

/**
 * What must have succeeded in the connection's shell before anything else runs on the connection (the host
 * lock): it goes in the same write as the first command the shell runs, which runs only if it succeeded (one
 * round trip for both), or alone before any other first operation (a channel of its own, SFTP).
 */
interface Prelude {
  script: string
  /** Throws when the script's output says it did not succeed. */
  check(result: ExecResult): void
  /** Set once the script is sent; settles once it has run and been checked, rejecting as check threw. */
  done?: Promise<void>
}

/** One authenticated connection to one host. */
export class Session {
  private constructor(
    readonly target: Connection,
    private link: Link,
  ) {}

  /** The session of a connected NodeSSH (it watches the connection's end). */
  static of(target: Connection, ssh: NodeSSH, maxSessions: number, changes = { count: 0 }): Session {
    const client = ssh.connection as unknown as Ssh2Client
    let lose: (e: Error) => void = () => {}
    const gone = new Promise<never>((_, reject) => (lose = reject))
    gone.catch(() => undefined) // only those racing it care
    const link: Link = { ssh, client, slots: new Slots(maxSessions), gone, changes }
    client.setMaxListeners(0)
    client.on('error', (e: Error) => (link.dead ??= e.message))
    client.on('close', () => {
      link.dead ??= 'connection closed'
      lose(new Unreachable(`${target.host}: connection lost: ${link.dead}`))
    })
    return new Session(target, link)
  }

  get alive(): boolean {
    return !this.link.dead
  }

  /**
   * How many times something that may change the host (a command that is not a read, a put, the lock) started
   * or ended on this connection, through any view of it, or on another connection of this transport to the
   * same address (two inventory names for one machine): facts read when it was N are still what the host says
   * while it is N (ReadAhead, task.ts).
   */
  get changes(): number {
    return this.link.changes.count
  }

  /**
   * Runs a shell command line on the host; resolves with its output and exit code, whatever the code. A plain
   * command (no input, timeout or become) goes to the connection's shell when that is idle (see Shell); any
   * other, or one that comes while the shell is busy, gets a channel of its own.
   */
  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    const result = await this.changing(!options.reads, async () => {
      const plain = options.input === undefined && !options.timeoutMs && !this.becomes(options.become)
      const shell = plain ? await this.idleShell() : undefined
      if (!shell) {
        await this.afterPrelude()
        return await this.run(command, options)
      }
      const prelude = this.link.prelude
      if (prelude && !prelude.done) return await this.withPrelude(shell, prelude, shellLine(command, options.script))
      // Sent on this shell before, so done by the time the shell is idle: this only rethrows a failure.
      await this.afterPrelude().catch((e) => (shell.unclaim(), Promise.reject(e)))
      return await this.inShell(shell, shellLine(command, options.script))
    })
    return { stdout: result.stdout.toString('utf8'), stderr: result.stderr.toString('utf8'), code: result.code }
  }

  /**
   * Makes `script` the connection's prelude (Prelude): run in the connection's shell itself, not in a command of
   * its own, so that what it opens (a file descriptor holding a flock) stays open as long as the connection, a
   * lock the host drops when the connection dies (the controller killed, the link cut). The commands the shell
   * runs later do not inherit descriptor 9. `script` must neither exit nor read its input (that would end the
   * shell), and its last command's status says whether it succeeded; `check` reads its output.
   */
  prelude(script: string, check: (result: ExecResult) => void): void {
    this.link.prelude = { script, check }
  }

  /** Runs the prelude alone unless it was sent; resolves once it has succeeded, rejects as it failed. */
  private async afterPrelude(): Promise<void> {
    const prelude = this.link.prelude
    if (!prelude) return
    // The shell may be starting or busy for another first operation, which then sends the prelude.
    for (let shell: Shell | undefined; !prelude.done; await new Promise((resolve) => setTimeout(resolve, 5))) {
      this.check()
      if (this.link.shell === false || this.link.shell?.over)
        throw new Error(`${this.target.host}: the connection's shell ended: its prelude cannot run`)
      shell = await this.idleShell()
      if (shell && prelude.done) shell.unclaim()
      else if (shell) return this.changing(true, () => this.withPrelude(shell!, prelude, ':')).then(() => undefined)
    }
    return prelude.done
  }

  /** `line` in the shell once the prelude has succeeded, in one write: the prelude's result is checked. */
  private async withPrelude(
    shell: Shell,
    prelude: Prelude,
    line: string,
  ): Promise<{ stdout: Buffer; stderr: Buffer; code: number }> {
    let settle: (error?: Error) => void = () => {}
    prelude.done = new Promise<void>((resolve, reject) => (settle = (e) => (e ? reject(e) : resolve())))
    prelude.done.catch(() => undefined) // only those waiting for it care
    const mark = `HBMON-PRELUDE-${randomBytes(8).toString('hex')}`
    try {
      const r = await this.inShell(
        shell,
        `${prelude.script}\nhbmon_prelude=$?; ${endMarks(mark, '"$hbmon_prelude"')}; [ "$hbmon_prelude" = 0 ] && ${line}`,
      )
      const out = r.stdout.indexOf(`${mark} `)
      const eol = r.stdout.indexOf('\n', out)
      const err = r.stderr.indexOf(`${mark}\n`)
      if (out < 0 || eol < 0 || err < 0)
        throw new Error(`${this.target.host}: the connection's shell did not run its prelude`)
      prelude.check({
        stdout: r.stdout.subarray(0, out).toString('utf8'),
        stderr: r.stderr.subarray(0, err).toString('utf8'),
        code: Number(r.stdout.subarray(out + mark.length + 1, eol).toString()),
      })
      settle()
      return { stdout: r.stdout.subarray(eol + 1), stderr: r.stderr.subarray(err + mark.length + 1), code: r.code }
    } catch (e) {
      settle(e as Error)
      throw e
    }
  }

  /** Writes a local file or a buffer to `remote` (mode applies to a newly created file). */
  put(source: string | Buffer, remote: string, options: { mode?: number; become?: boolean } = {}): Promise<void> {
    return this.changing(true, async () => {
      await this.afterPrelude()
      if (this.becomes(options.become)) {
        // SFTP runs as the login user: write through sudo instead.
        const data = typeof source === 'string' ? await readFile(source) : source
        const mode = options.mode === undefined ? '' : `umask ${(~options.mode & 0o777).toString(8)}; `
        const result = await this.run(`${mode}cat > ${quote(remote)}`, { input: data, become: true })
        if (result.code !== 0) throw new Error(`cannot write ${remote}: ${result.stderr.toString().trim()}`)
        return
      }
      await this.withSftp((sftp, done) => {
        const mode = options.mode === undefined ? {} : { mode: options.mode }
        if (typeof source === 'string') sftp.fastPut(source, remote, mode, done)
        else writeAll(sftp, remote, source, options.mode, done)
      }, `cannot write ${remote}`)
    })
  }

  /** Copies `remote` to the local path `local`. */
  async get(remote: string, local: string, options: { become?: boolean } = {}): Promise<void> {
    await this.afterPrelude()
    if (this.becomes(options.become)) {
      const result = await this.run(`cat ${quote(remote)}`, { become: true })
      if (result.code !== 0) throw new Error(`cannot read ${remote}: ${result.stderr.toString().trim()}`)
      await writeFile(local, result.stdout)
      return
    }
    await this.withSftp((sftp, done) => sftp.fastGet(remote, local, done), `cannot read ${remote}`)
  }

  /**
   * A direct-tcpip channel to host:port, the `sock` of the next hop's connection (ProxyJump). Not a session
   * channel: sshd's MaxSessions does not count it, so it takes no slot.
   */
  forward(host: string, port: number): Promise<unknown> {
    this.check()
    return this.link.ssh.forwardOut('127.0.0.1', 0, host, port)
  }

  /**
   * This connection with other become settings (a play's, block's or task's `become`): the same channels,
   * slots, shell and SFTP session; only the target's become and become user differ.
   */
  withBecome(become: Pick<Connection, 'become' | 'becomeUser'>): Session {
    if (become.become === this.target.become && become.becomeUser === this.target.becomeUser) return this
    return new Session({ ...this.target, ...become }, this.link)
  }

  close(): void {
    this.link.dead ??= 'closed'
    this.link.ssh.dispose()
  }

  private becomes(become: boolean | undefined): boolean {
    return (become ?? this.target.become) && this.target.becomeUser !== loginUser(this.target)
  }

  /** `work`, counted as a change of the host (before it starts and once it ends) when `changes` is true. */
  private async changing<T>(changes: boolean, work: () => Promise<T>): Promise<T> {
    if (!changes) return work()
    this.link.changes.count++
    try {
      return await work()
    } finally {
      this.link.changes.count++
    }
  }

  /** The shell, started on first use with a channel slot of its own for good; undefined if busy or no slot. */
  private async idleShell(): Promise<Shell | undefined> {
    const link = this.link
    if (link.shell === undefined) {
      const release = link.slots.tryAcquire()
      if (!release) return undefined
      link.shell = new Shell(this.target.host, release, () => link.dead)
      try {
        this.check()
        await link.shell.start(link.client)
      } catch (e) {
        link.shell = false
        release()
        throw this.lost(e as Error)
      }
    }
    // Taken in the same tick as it is found idle: a command started meanwhile would find it busy.
    return link.shell && link.shell.idle ? link.shell.claim() : undefined
  }

  private inShell(shell: Shell, line: string): Promise<{ stdout: Buffer; stderr: Buffer; code: number }> {
    return Promise.race([shell.run(line), this.link.gone])
  }

  /** Runs `work` on the connection's SFTP session, opened on first use and kept (as the shell, a slot for good). */
  private async withSftp(work: (sftp: Sftp, done: (err?: Error | null) => void) => void, what: string): Promise<void> {
    this.check()
    const sftp = await (this.link.sftp ??= this.openSftp())
    await Promise.race([
      new Promise<void>((resolve, reject) => work(sftp, (err) => (err ? reject(this.lost(err, what)) : resolve()))),
      this.link.gone,
    ])
  }

  private openSftp(): Promise<Sftp> {
    const link = this.link
    const opened = (async () => {
      const release = await link.slots.acquire()
      try {
        this.check()
        const request = async (retries: number): Promise<Sftp> => {
          try {
            return (await link.ssh.requestSFTP()) as unknown as Sftp
          } catch (e) {
            // sshd counts a closed session until it collects it; a new one can race that: retry shortly.
            if (retries > 0 && !link.dead && /open failed/i.test((e as Error).message)) {
              await new Promise((resolve) => setTimeout(resolve, 20))
              return request(retries - 1)
            }
            throw this.lost(e as Error)
          }
        }
        const sftp = await Promise.race([link.gone, request(50)])
        sftp.on('close', () => (release(), (link.sftp = undefined)))
        return sftp
      } catch (e) {
        release()
        throw e
      }
    })()
    opened.catch(() => (link.sftp = undefined))
    return opened
  }

  private check(): void {
    if (this.link.dead) throw new Unreachable(`${this.target.host}: connection lost: ${this.link.dead}`)
  }

  /** An error while the connection is gone means the host is gone; otherwise it is the operation's own. */
  private lost(err: Error, what?: string): Error {
    if (this.link.dead) return new Unreachable(`${this.target.host}: connection lost: ${this.link.dead}`)
    return what ? new Error(`${what}: ${err.message}`) : err
  }

  private async run(command: string, options: ExecOptions): Promise<{ stdout: Buffer; stderr: Buffer; code: number }> {
    const become = this.becomes(options.become)
    const password = become ? this.target.becomePassword : undefined
    // With a password, sudo prompts on stderr and a marker on stdout says the command has started: only then
    // does the command's own input go in (so the password never reaches the command, as in Ansible).
    const marker = password !== undefined ? `HBMON-BECOME-${randomBytes(8).toString('hex')}` : undefined
    const prompt = `[sudo via hbmon, ${marker}] password:`
    const line = !become
      ? command
      : marker
        ? `sudo -S -p ${quote(prompt)} -u ${quote(this.target.becomeUser)} -- sh -c ${quote(`echo ${marker}; ${command}`)}`
        : `sudo -n -u ${quote(this.target.becomeUser)} -- sh -c ${quote(command)}`
    const release = await this.link.slots.acquire()
    try {
      this.check()
      // Listeners go on inside exec's callback: ssh2 may handle the command's output, exit status and close
      // in the same tick as the callback, and an 'exit' emitted before a listener exists is lost.
      const running = new Promise<{ stdout: Buffer; stderr: Buffer; code: number }>((resolve, reject) => {
        const attempt = (retries: number) =>
          this.link.client.exec(line, (error, channel) => {
            if (error && retries > 0 && !this.link.dead && /open failed/i.test(error.message))
              // sshd counts a closed session until it collects it; a new one can race that: retry shortly.
              return void setTimeout(() => attempt(retries - 1), 20)
            if (error) return reject(this.lost(error))
            this.collect(channel, command, options, marker, prompt, password).then(resolve, reject)
          })
        attempt(50)
      })
      return await Promise.race([running, this.link.gone])
    } finally {
      release()
    }
  }

  private collect(
    channel: Channel,
    command: string,
    options: ExecOptions,
    marker: string | undefined,
    prompt: string,
    password: string | undefined,
  ) {
    return new Promise<{ stdout: Buffer; stderr: Buffer; code: number }>((resolve, reject) => {
      const out: Buffer[] = []
      const err: Buffer[] = []
      let code: number | undefined
      let signal: string | undefined
      let started = !marker
      let timer: NodeJS.Timeout | undefined
      if (options.timeoutMs)
        timer = setTimeout(() => {
          channel.close()
          reject(new ExecTimeout(`command timed out after ${options.timeoutMs! / 1000} s: ${command}`))
        }, options.timeoutMs)
      const input = options.input === undefined ? undefined : Buffer.from(options.input)
      channel.on('data', (chunk: Buffer) => {
        if (!started) {
          const text = Buffer.concat([...out, chunk]).toString('latin1')
          const at = text.indexOf(`${marker}\n`)
          if (at < 0) return void out.push(chunk)
          started = true
          out.length = 0
          const rest = Buffer.from(text.slice(at + marker!.length + 1), 'latin1')
          if (rest.length) out.push(rest)
          channel.end(input)
          return
        }
        out.push(chunk)
      })
      let prompted = false
      channel.stderr.on('data', (chunk: Buffer) => {
        if (!started && chunk.toString().includes(prompt)) {
          // The password is sent once: sudo asking again means it was wrong, and each further try would count
          // towards pam_faillock's lock-out (Ansible stops after one too).
          if (prompted) {
            clearTimeout(timer)
            channel.close()
            return reject(
              new BecomeError(
                `sudo: incorrect password for ${loginUser(this.target)} on ${this.target.host} (tried once)`,
              ),
            )
          }
          prompted = true
          return void (channel as unknown as { write(b: string): void }).write(`${password}\n`)
        }
        err.push(chunk)
      })
      channel.on('exit', (c: number | null, sig?: string) => ((code = c ?? undefined), (signal = sig)))
      channel.on('close', () => {
        clearTimeout(timer)
        if (code === undefined && this.link.dead)
          return reject(new Unreachable(`${this.target.host}: connection lost: ${this.link.dead}`))
        const stderr = Buffer.concat(err)
        // Killed by a signal: a shell would say 128+N; we say 255 and name the signal.
        resolve({
          stdout: Buffer.concat(out),
          stderr: signal ? Buffer.concat([stderr, Buffer.from(`\nkilled by ${signal}\n`)]) : stderr,
          code: code ?? 255,
        })
      })
      if (!marker) channel.end(input)
    })
  }
}

/**
 * One long-lived shell per connection that runs plain commands one after another: a command then costs one
 * write and its output, where a channel of its own costs ten packets (open, exec, eof, exit status, close),
 * each encrypted, and a session that sshd forks with a login shell. Each command runs as Ansible runs its
 * own, `/bin/sh -c COMMAND` (so `exit`, `cd` and `$$` are its own), with /dev/null as input; its output and exit
 * code come back framed by a random marker on stdout, and the marker ends its stderr too. The shell reads its
 * script from the channel, so a command is parsed only as one quoted word: nothing in it reaches the loop.
 */
class Shell {
  private pending?: {
    mark: string
    out: Buffer[]
    err: Buffer[]
    code?: number
    errDone: boolean
    resolve: (r: { stdout: Buffer; stderr: Buffer; code: number }) => void
    reject: (e: Error) => void
  }
  private channel?: Channel
  private ended?: string

  constructor(
    private host: string,
    private release: () => void,
    private dead: () => string | undefined,
  ) {}

  private claimed = false

  get idle(): boolean {
    return !this.claimed && !this.ended && !!this.channel
  }

  /** The shell has ended: it runs nothing more. */
  get over(): boolean {
    return !!this.ended
  }

  /** Marks the shell busy until the next command run has answered. */
  claim(): this {
    this.claimed = true
    return this
  }

  /** Gives back a shell claimed for nothing. */
  unclaim(): void {
    this.claimed = false
  }

  /**
   * Opens the shell on node-ssh's connection as an exec channel running `exec /bin/sh -s`, not with node-ssh's
   * requestShell: that asks sshd for a shell session, which starts the account's login shell as a login shell.
   * It reads /etc/profile and ~/.profile first, so the commands would run with the profile's environment (PATH,
   * umask, anything it exports or prints) where a command on a channel of its own (the shell busy, input, a
   * timeout, become) and Ansible's own commands run without it; the login shell need not be POSIX sh (the
   * framing below is); and a shell that reads its input in blocks (dash) would swallow commands written before
   * it exec'd a known one, so it would cost a round trip per connection to wait for that. An exec request runs
   * exactly the command given, as every other command of the engine.
   */
  start(client: Ssh2Client): Promise<void> {
    return new Promise((resolve, reject) =>
      client.exec('exec /bin/sh -s', (error, channel) => {
        if (error) return reject(error)
        this.channel = channel
        channel.on('data', (chunk: Buffer) => this.data(chunk, false))
        channel.stderr.on('data', (chunk: Buffer) => this.data(chunk, true))
        channel.on('close', () => {
          this.ended = this.dead() ?? 'the shell ended'
          this.release()
          this.pending?.reject(
            this.dead()
              ? new Unreachable(`${this.host}: connection lost: ${this.dead()}`)
              : new Error(`${this.host}: the remote shell ended while running a command`),
          )
          this.pending = undefined
        })
        resolve()
      }),
    )
  }

  /** Runs `line` in the shell (a command of its own, or, for hold, what the shell itself does). */
  run(line: string): Promise<{ stdout: Buffer; stderr: Buffer; code: number }> {
    const mark = `HBMON-${randomBytes(8).toString('hex')}`
    return new Promise((resolve, reject) => {
      this.pending = { mark, out: [], err: [], errDone: false, resolve, reject }
      this.channel!.write(`${line}\n${endMarks(mark, '"$?"')}\n`)
    })
  }

  /** Output of the running command: everything before its marker (stdout: `MARK CODE\n`, stderr: `MARK\n`). */
  private data(chunk: Buffer, stderr: boolean): void {
    const p = this.pending
    if (!p) return
    const parts = stderr ? p.err : p.out
    parts.push(chunk)
    // The marker may straddle chunks: look in the last chunks' tail and this one.
    const tail = Buffer.concat(parts.length > 1 ? [parts.at(-2)!.subarray(-64), chunk] : [chunk])
    const at = tail.indexOf(stderr ? `${p.mark}\n` : `${p.mark} `)
    if (at < 0) return
    const whole = Buffer.concat(parts)
    const start = whole.length - tail.length + at
    if (stderr) {
      p.err = [whole.subarray(0, start)]
      p.errDone = true
    } else {
      const eol = whole.indexOf('\n', start)
      if (eol < 0) return // the code is still to come
      p.code = Number(whole.subarray(start + p.mark.length + 1, eol).toString())
      p.out = [whole.subarray(0, start)]
    }
    if (p.code === undefined || !p.errDone) return
    this.pending = undefined
    this.claimed = false
    p.resolve({ stdout: Buffer.concat(p.out), stderr: Buffer.concat(p.err), code: p.code })
  }
}

/** The shell's end of a command's output: `MARK STATUS` on stdout, `MARK` on stderr (Shell.data reads them). */
function endMarks(mark: string, status: string): string {
  return `printf '%s %s\\n' ${mark} ${status}; printf '%s\\n' ${mark} >&2`
}

/**
 * Writes `data` to `remote` (created or truncated; `mode` for a new file) with every write request sent at once.
 * ssh2's writeFile sends a request of the server's largest write (~256 KB with OpenSSH) only once the previous
 * one is acknowledged: a round trip per request, four more for a 1 MB file on every host. Each request carries
 * its offset, so the order they land in does not matter; the file is closed once all are acknowledged, and the
 * first error is the one reported (after the close, as writeFile does).
 */
function writeAll(
  sftp: Sftp,
  remote: string,
  data: Buffer,
  mode: number | undefined,
  done: (err?: Error | null) => void,
) {
  sftp.open(remote, 'w', mode, (err, handle) => {
    if (err) return done(err)
    const chunk = Math.max(1024, sftp._maxWriteLen ?? 32 * 1024)
    let pending = Math.ceil(data.length / chunk)
    let failed: Error | undefined
    const finish = () => sftp.close(handle, (closeErr) => done(failed ?? closeErr))
    if (!pending) return finish()
    for (let offset = 0; offset < data.length; offset += chunk)
      sftp.write(handle, data, offset, Math.min(chunk, data.length - offset), offset, (writeErr) => {
        failed ??= writeErr
        if (--pending === 0) finish()
      })
  })
}

/**
 * The line the connection's shell runs for a command: a shell of its own, `/bin/sh -c WORD`, as Ansible runs
 * its commands (so `exit`, `cd`, `$$` and a syntax error are the command's own), with /dev/null as input and
 * without the lock's descriptor. Three shortcuts spare the host a process or two (dash does not exec the last
 * command of `-c`: `/bin/sh -c 'uname -r'` starts dash, which forks uname):
 * - a task's compound command comes as `sh -c WORD` (host.$ quotes WORD as one word): WORD goes to /bin/sh -c
 *   itself rather than to a /bin/sh that starts `sh` again;
 * - a command of plain words (quote()'s, the first not a reserved word: `uname -r`, the command module's argv,
 *   also as `sh -c WORD`) runs in a subshell of the connection's shell, which execs it: nothing in such a line
 *   is expanded or read as syntax, so it does there what it does in a shell of its own;
 * - so does `script`, a command the engine wrote from its own scripts (a gather: every fact's script is
 *   parsed in the tests, since a syntax error would end the connection's shell; none reads `$$`).
 */
export function shellLine(command: string, script = false): string {
  const tail = ' </dev/null 9>&-'
  if (script) return `(\n${command}\n)${tail}`
  const word = command.startsWith('sh -c ') ? command.slice('sh -c '.length) : ''
  const own = isQuotedWord(word)
  const body = !own ? command : word.startsWith("'") ? word.slice(1, -1).replace(/'\\''/g, "'") : word
  if (isQuotedLine(body) && !reserved.has(body.split(' ')[0]!)) return `( ${body} )${tail}`
  return `/bin/sh -c ${own ? word : quote(command)}${tail}`
}

// Words that are syntax in command position (POSIX's, and bash's as /bin/sh).
const reserved = new Set(
  'case do done elif else esac fi for if in then until while function select time coproc'.split(' '),
)

/** Connections by host, made once and shared by every task; jump hosts are shared between their targets. */
export class Transport {
  private sessions = new Map<string, Promise<Session>>()
  private jumps = new Map<string, Promise<Session>>()
  private changes = new Map<string, { count: number }>()
  private options: Required<Omit<TransportOptions, 'agent'>> & { agent?: string }

  constructor(options: TransportOptions = {}) {
    this.options = {
      acceptNewHostKeys: options.acceptNewHostKeys ?? false,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      keepaliveIntervalMs: options.keepaliveIntervalMs ?? 5_000,
      keepaliveCountMax: options.keepaliveCountMax ?? 3,
      maxSessions: options.maxSessions ?? 10,
      ...((options.agent ?? process.env.SSH_AUTH_SOCK) ? { agent: options.agent ?? process.env.SSH_AUTH_SOCK } : {}),
    }
  }

  /** The host's session for these connection settings, connecting on first use (a play's vars may change them). */
  session(name: string, target: Connection): Promise<Session> {
    const key = `${name}\0${JSON.stringify(target)}`
    let session = this.sessions.get(key)
    if (!session) {
      session = this.connect(target)
      session.catch(() => {})
      this.sessions.set(key, session)
    }
    return session
  }

  /** Closes one host's connections (the jump connections stay until closeAll). */
  async close(name: string): Promise<void> {
    const closing: Promise<void>[] = []
    for (const [key, session] of this.sessions)
      if (key.startsWith(`${name}\0`)) {
        this.sessions.delete(key)
        closing.push(
          session.then(
            (s) => s.close(),
            () => {},
          ),
        )
      }
    await Promise.all(closing)
  }

  /** The change count of the connections to target's address (Session.changes). */
  private changesOf(target: Connection): { count: number } {
    const key = `${target.host}:${target.port}`
    let changes = this.changes.get(key)
    if (!changes) this.changes.set(key, (changes = { count: 0 }))
    return changes
  }

  async closeAll(): Promise<void> {
    const all = [...this.sessions.values(), ...this.jumps.values()]
    this.sessions.clear()
    this.jumps.clear()
    await Promise.all(
      all.map((s) =>
        s.then(
          (s) => s.close(),
          () => {},
        ),
      ),
    )
  }

  private async connect(target: Connection): Promise<Session> {
    if (target.connection !== 'ssh')
      throw new Unreachable(`ansible_connection "${target.connection}" is not supported (only ssh)`)
    let sock: unknown
    let via: Connection | undefined
    for (const hop of target.proxyJump) {
      // A jump host gets only what is its own: its address, user and the key file (as ssh -J uses the same
      // identities); never the target's password or become password.
      const { password: _p, becomePassword: _b, hostKeyAlias: _a, ...shared } = target
      const jumpTarget: Connection = {
        ...shared,
        host: hop.host,
        port: hop.port,
        user: hop.user ?? target.user,
        proxyJump: [],
        become: false,
      }
      const key = `${jumpTarget.user ?? ''}@${hop.host}:${hop.port}`
      let jump = this.jumps.get(key)
      if (!jump) {
        jump = this.open(jumpTarget, sock)
        jump.catch(() => {})
        this.jumps.set(key, jump)
      }
      const session = await jump.catch((e: Error) => {
        throw e instanceof HostKeyError ? e : new Unreachable(`jump host ${hop.host}:${hop.port}: ${e.message}`)
      })
      via = jumpTarget
      sock = await session.forward(target.host, target.port).catch((e: Error) => {
        throw new Unreachable(`cannot reach ${target.host}:${target.port} through ${via!.host}: ${e.message}`)
      })
    }
    return this.open(target, sock)
  }

  private async open(target: Connection, sock: unknown): Promise<Session> {
    const name = target.hostKeyAlias ?? knownHostName(target.host, target.port)
    const acceptNew = this.options.acceptNewHostKeys || target.acceptNewHostKey === true
    const knownHosts = await readKnownHosts(target.knownHostsFile)
    let refused: HostKeyError | undefined
    let accepted: Buffer | undefined
    const types = knownKeyTypes(knownHosts, name).flatMap((t) => hostKeyAlgorithms[t] ?? [])
    const ssh = new NodeSSH()
    const identity = target.keyFile ?? (this.options.agent || target.password ? undefined : defaultIdentity())
    // ssh2 takes one agent: the identity file is one only when no ssh-agent is in use.
    const fileAgent = identity && !this.options.agent ? await FileAgent.for(identity).catch(() => undefined) : undefined
    try {
      await ssh.connect({
        host: target.host,
        port: target.port,
        username: loginUser(target),
        ...(sock ? { sock } : {}),
        ...(fileAgent ? { agent: fileAgent } : identity ? { privateKeyPath: identity } : {}),
        ...(this.options.agent ? { agent: this.options.agent } : {}),
        ...(target.password !== undefined ? { password: target.password } : {}),
        readyTimeout: this.options.connectTimeoutMs,
        keepaliveInterval: this.options.keepaliveIntervalMs,
        keepaliveCountMax: this.options.keepaliveCountMax,
        // Ask for the key types known_hosts has for the host, as ssh does, so a known host is checked against
        // the key it is known by rather than reported as new for another type.
        ...(types.length ? { algorithms: { serverHostKey: types } } : {}),
        hostVerifier: (key: Buffer) => {
          const verdict = checkHostKey(knownHosts, name, key)
          const described = `${keyType(key)} SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`
          if (verdict.status === 'known') return true
          if (verdict.status === 'unknown' && acceptNew) {
            accepted = key
            return true
          }
          refused = new HostKeyError(
            verdict.status === 'unknown'
              ? `host key for ${name} is not in ${target.knownHostsFile} (${described}): verify it and add it, or run with --accept-new-host-keys`
              : verdict.status === 'changed'
                ? `HOST KEY CHANGED for ${name}: it presented ${described}, which does not match ${target.knownHostsFile}:${verdict.line}; refusing to connect (possible man-in-the-middle; if the host was reinstalled, remove the old line)`
                : `host key ${described} of ${name} is marked @revoked in ${target.knownHostsFile}:${verdict.line}`,
          )
          return false
        },
      } as Parameters<NodeSSH['connect']>[0])
    } catch (e) {
      ssh.dispose()
      if (refused) throw refused
      throw new Unreachable(`${name}: ${(e as Error).message}`)
    }
    if (accepted) await appendKnownHost(target.knownHostsFile, name, accepted)
    return Session.of(target, ssh, this.options.maxSessions, this.changesOf(target))
  }
}

// The SSH algorithm names that present a key of a known_hosts key type.
const hostKeyAlgorithms: Record<string, string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
}

function defaultIdentity(): string | undefined {
  return ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((f) => join(homedir(), '.ssh', f)).find((f) => existsSync(f))
}
