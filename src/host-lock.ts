// One controller at a time on a host. With the first command a run sends to a host it takes flock(1) on
// /run/lock/hbmon-deploy.lock in the connection's shell (ssh.ts), which lives as long as the connection, and
// writes who holds it into that file. Two controllers therefore never work on the same host at
// once; the second waits up to --lock-wait seconds, then fails that host with the holder's pid, machine, user
// and start time. The lock goes with the connection: a controller killed (even with SIGKILL) closes its
// TCP connections, sshd ends the session and the kernel drops the flock — no stale lock to clear by hand. A
// link cut without a FIN holds it until sshd gives up on the client (its ClientAlive settings).
// The lock lives for the host's connection, which the rollout keeps for one batch of one play. Each host is
// locked on its own: two controllers whose batches overlap can each hold a host the other waits for, which is
// why the wait is bounded (and 0 by default).
import { hostname, userInfo } from 'node:os'
import type { Session } from './ssh.ts'
import { quote } from './util.ts'

// Run in the connection's shell itself (Session.prelude), so descriptor 9 and its flock live as long as the
// connection. $1: seconds to wait; $2: this controller, written into the file once it holds the lock. It
// returns rather than exits, and opens the file only once it knows it can (a failed `exec` redirection would
// end the shell). It unsets itself first: the commands that shell runs later (shellLine) see no function.
const lockScript = `hbmon_lock() {
unset -f hbmon_lock
command -v flock >/dev/null || { echo "HBMON-NOLOCK flock(1) is not installed"; return 3; }
d=/run/lock; [ -d "$d" ] || mkdir -p "$d" 2>/dev/null; [ -w "$d" ] || d=/tmp
f=$d/hbmon-deploy.lock
[ -e "$f" ] || (: >>"$f") 2>/dev/null
if [ -w "$f" ]; then exec 9<>"$f"; elif [ -r "$f" ]; then exec 9<"$f"; else echo "HBMON-NOLOCK cannot open $f"; return 3; fi
if ! flock -w "$1" 9; then echo "HBMON-BUSY $(head -c 300 "$f" | tr -d '\\n')"; return 1; fi
printf '%s\\n' "$2" >"$f" 2>/dev/null
echo HBMON-LOCKED
}`

const started = new Date(Date.now() - process.uptime() * 1000).toISOString()

/** Who we are, as another controller will read it. */
export function holder(): string {
  return `deploy pid ${process.pid} on ${hostname()} (user ${userInfo().username}), started ${started}`
}

export class HostLocked extends Error {
  override name = 'HostLocked'
}

/**
 * Makes the host's deploy lock the prelude of `session` (Session.prelude): it is taken, waiting at most
 * `waitSeconds`, with the first command run on the connection, in the same round trip; that command and every
 * later operation fail with HostLocked, naming the holder, when it cannot be taken.
 */
export function lockHost(session: Session, waitSeconds: number): Session {
  session.prelude(`${lockScript}\nhbmon_lock ${String(waitSeconds)} ${quote(holder())} </dev/null`, (result) => {
    const line = (result.stdout.split('\n')[0] ?? '').trim() || result.stderr.trim()
    if (line === 'HBMON-LOCKED') return
    const busy = /^HBMON-BUSY (.*)$/.exec(line)
    if (busy)
      throw new HostLocked(
        `another controller is rolling out to this host: ${busy[1] || 'holder unknown'}; waited ${waitSeconds} s (--lock-wait)`,
      )
    throw new HostLocked(`cannot take the deploy lock: ${line.replace(/^HBMON-NOLOCK /, '') || 'no answer'}`)
  })
  return session
}
