// stat: what a path is, registered as Ansible's stat module registers it (ansible/modules/stat.py):
// `{stat: {exists: false}}`, or exists, path, mode ('0644'), the is* tests, uid/gid/pw_name/gr_name, size,
// times, the permission bits as booleans, readable/writeable/executable, lnk_source/lnk_target, checksum
// (sha1 unless checksum_algorithm), mimetype/charset and lsattr's attributes. One remote command; no change.
import { defineTask } from '../src/task.ts'
import { PyFloat } from '../src/util.ts'
import { PathStat, type PathStatus } from '../facts/files.ts'

interface StatArgs {
  path: string
  follow?: boolean
  get_checksum?: boolean
  get_md5?: boolean
  get_mime?: boolean
  get_attributes?: boolean
  checksum_algorithm?: 'md5' | 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512'
}

const attributeNames: Record<string, string> = {
  A: 'noatime',
  a: 'append',
  c: 'compressed',
  C: 'nocow',
  d: 'nodump',
  D: 'dirsync',
  e: 'extents',
  E: 'encrypted',
  h: 'blocksize',
  i: 'immutable',
  I: 'indexed',
  j: 'journalled',
  N: 'inline',
  s: 'zero',
  S: 'synchronous',
  t: 'notail',
  T: 'blockroot',
  u: 'undelete',
  X: 'compressedraw',
  Z: 'compresseddirty',
}

/** The `stat` dict of Ansible's module, from the fact. */
export function statOutput(path: string, s: PathStatus, args: StatArgs): Record<string, unknown> {
  const type = s.mode & 0o170000
  const bit = (b: number) => (s.mode & b) !== 0
  const out: Record<string, unknown> = {
    exists: true,
    path,
    mode: (s.mode & 0o7777).toString(8).padStart(4, '0'),
    isdir: type === 0o040000,
    ischr: type === 0o020000,
    isblk: type === 0o060000,
    isreg: type === 0o100000,
    isfifo: type === 0o010000,
    islnk: type === 0o120000,
    issock: type === 0o140000,
    uid: s.uid,
    gid: s.gid,
    size: s.size,
    inode: s.inode,
    dev: s.dev,
    nlink: s.nlink,
    atime: new PyFloat(s.atime),
    mtime: new PyFloat(s.mtime),
    ctime: new PyFloat(s.ctime),
    wusr: bit(0o200),
    rusr: bit(0o400),
    xusr: bit(0o100),
    wgrp: bit(0o020),
    rgrp: bit(0o040),
    xgrp: bit(0o010),
    woth: bit(0o002),
    roth: bit(0o004),
    xoth: bit(0o001),
    isuid: bit(0o4000),
    isgid: bit(0o2000),
    blocks: s.blocks,
    block_size: s.blockSize,
    device_type: s.deviceType,
    readable: s.readable,
    writeable: s.writeable,
    executable: s.executable,
  }
  if (s.linkTarget !== undefined) Object.assign(out, { lnk_source: s.linkSource, lnk_target: s.linkTarget })
  if (s.owner !== undefined) out.pw_name = s.owner
  if (s.group !== undefined) out.gr_name = s.group
  if (s.checksum !== undefined) out.checksum = s.checksum
  if (args.get_mime ?? true) {
    out.mimetype = s.mime?.type ?? 'unknown'
    out.charset = s.mime?.charset ?? 'unknown'
  }
  if (args.get_attributes ?? true) {
    const flags = s.attributes?.flags.replace(/-/g, '') ?? ''
    out.version = s.attributes?.version ?? null
    out.attributes = [...flags].filter((f) => f in attributeNames).map((f) => attributeNames[f])
    out.attr_flags = flags
  }
  return out
}

export default defineTask<StatArgs>({
  name: 'stat',
  description: 'what a path is (registered as stat.exists, stat.isdir, stat.mode, stat.checksum ...)',
  aliases: {
    dest: 'path',
    name: 'path',
    checksum: 'checksum_algorithm',
    checksum_algo: 'checksum_algorithm',
    mime: 'get_mime',
    mime_type: 'get_mime',
    'mime-type': 'get_mime',
    attr: 'get_attributes',
    attributes: 'get_attributes',
  },
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['path'],
    properties: {
      path: { type: 'string', minLength: 1, description: 'a remote path' },
      follow: { type: 'boolean', description: 'a boolean' },
      get_checksum: { type: 'boolean', description: 'a boolean' },
      get_md5: { const: false, description: 'false (md5 is not offered; checksum_algorithm: md5 is)' },
      get_mime: { type: 'boolean', description: 'a boolean' },
      get_attributes: { type: 'boolean', description: 'a boolean' },
      checksum_algorithm: {
        enum: ['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512'],
        description: 'one of md5, sha1, sha224, sha256, sha384, sha512',
      },
    },
  },
  async run(host, args) {
    const algorithm = (args.get_checksum ?? true) ? (args.checksum_algorithm ?? 'sha1') : 'none'
    const s = await host.fact(
      PathStat,
      args.follow ? '1' : '0',
      algorithm,
      (args.get_mime ?? true) ? '1' : '0',
      (args.get_attributes ?? true) ? '1' : '0',
      args.path,
    )
    const stat = s ? statOutput(args.path, s, args) : { exists: false }
    return { changed: false, data: { stat } }
  },
})
