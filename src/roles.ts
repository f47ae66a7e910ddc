// Roles as ansible-core 2.14 finds and reads them (ansible/playbook/role/definition.py and __init__.py): a
// role named `x` is the first directory x found in <playbook dir>/roles, then roles_path (ansible.cfg's
// roles_path / ANSIBLE_ROLES_PATH, default ~/.ansible/roles:/usr/share/ansible/roles:/etc/ansible/roles),
// then (for a dependency) beside the role that depends on it, then the playbook's directory itself (so
// `role: ../roles/x` works). Its parts: tasks/, handlers/ (main, or tasks_from / handlers_from), defaults/ and
// vars/ (mappings), meta/main (dependencies, allow_duplicates), files/ and templates/ (searched first by the
// role's copy and template tasks). Each part is YAML read with its lines (src/yaml.ts): an error names the
// role's file. What this engine does not do with roles is refused here by name: argument_specs, collections,
// a vars/ or defaults/ directory in place of main.yml, connection variables in defaults or vars (a play's
// connection is settled before its tasks run).
//
// This file finds and reads; src/playbook.ts turns a role's tasks into the play's (it owns task parsing).
import { existsSync, statSync } from 'node:fs'
import { homedir } from 'node:os'
import { basename, join, resolve } from 'node:path'
import { readInput } from './input-file.ts'
import { connectionVars } from './connection.ts'
import { InputError, type Vars } from './util.ts'
import { parseYaml, type Yaml } from './yaml.ts'

/** Ansible's DEFAULT_ROLES_PATH when ansible.cfg and ANSIBLE_ROLES_PATH say nothing. */
export const defaultRolesPath = [join(homedir(), '.ansible/roles'), '/usr/share/ansible/roles', '/etc/ansible/roles']

export interface Role {
  name: string
  dir: string
  defaults: Vars
  vars: Vars
  dependencies: { yaml: Yaml; index: number }[]
  allowDuplicates: boolean
  /** A task or handler file of the role (`from`: main, or tasks_from's name), read once; undefined if absent. */
  part(kind: 'tasks' | 'handlers', from?: string): Yaml | undefined
  /** Where it was named (for errors about it). */
  file: string
  line: number
}

/** Where a role is looked for, in order (RoleDefinition._load_role_path). */
export function roleSearchDirs(search: { playbookDir: string; rolesPath: string[]; parentRoleDir?: string }): string[] {
  return [
    join(search.playbookDir, 'roles'),
    ...search.rolesPath,
    ...(search.parentRoleDir ? [resolve(search.parentRoleDir, '..')] : []),
    search.playbookDir,
  ]
}

/** The directory of the role `name` in those directories, or why there is none. */
export function findRole(name: string, dirs: string[]): { dir: string } | { reason: string } {
  if (/^[a-z_]\w*\.[a-z_]\w*\.\w+$/.test(name))
    return { reason: `role "${name}": roles from collections are not supported by this engine` }
  for (const dir of dirs) {
    const candidate = resolve(dir, name)
    if (existsSync(candidate) && statSync(candidate).isDirectory()) return { dir: candidate }
  }
  return { reason: `the role "${name}" was not found in ${dirs.join(':')}` }
}

const cache = new Map<string, Role>()

/** The role in `dir`, its defaults, vars and meta read and checked (each file once per run). */
export function loadRole(dir: string, where: { file: string; line: number }): Role {
  const cached = cache.get(dir)
  if (cached) return cached
  const name = basename(dir)
  for (const refused of ['meta/argument_specs.yml', 'meta/argument_specs.yaml'])
    if (existsSync(join(dir, refused)))
      throw new InputError(
        `role "${name}": argument_specs (role argument validation) is not supported by this engine`,
        join(dir, refused),
        1,
        1,
      )
  const mapping = (part: 'defaults' | 'vars'): Vars => {
    const yaml = readPart(dir, part)
    if (!yaml || yaml.value === null || yaml.value === undefined) return {}
    if (typeof yaml.value !== 'object' || Array.isArray(yaml.value))
      yaml.fail([], `the ${part} of role "${name}" must be a mapping of variables`)
    for (const key of Object.keys(yaml.value as object)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) yaml.fail([key], 'not a valid variable name', 'key')
      if (connectionVars.includes(key))
        yaml.fail(
          [key],
          `connection variables in a role's ${part} are not supported by this engine (set ${key} in the inventory, the play's vars or -e)`,
          'key',
        )
    }
    return yaml.value as Vars
  }
  const role: Role = {
    name,
    dir,
    defaults: mapping('defaults'),
    vars: mapping('vars'),
    dependencies: [],
    allowDuplicates: false,
    part: (kind, from) => {
      const key = `${kind}/${from ?? 'main'}`
      if (!parts.has(key)) parts.set(key, readPart(dir, kind, from))
      return parts.get(key)
    },
    file: where.file,
    line: where.line,
  }
  const parts = new Map<string, Yaml | undefined>()
  const meta = readPart(dir, 'meta')
  if (meta && meta.value !== null && meta.value !== undefined) {
    if (typeof meta.value !== 'object' || Array.isArray(meta.value))
      meta.fail([], `the meta of role "${name}" must be a mapping`)
    const m = meta.value as Record<string, unknown>
    for (const key of meta.keys(m)) {
      if (key === 'galaxy_info') continue
      if (key === 'allow_duplicates') {
        const value = m[key]
        if (typeof value !== 'boolean') return meta.fail([key], 'expected a boolean')
        role.allowDuplicates = value
      } else if (key === 'dependencies') {
        const deps = m[key] ?? []
        if (!Array.isArray(deps)) return meta.fail([key], 'expected a list of roles')
        role.dependencies = deps.map((_, index) => ({ yaml: meta, index }))
      } else if (key === 'argument_specs' || key === 'collections')
        meta.fail([key], `"${key}" in a role's meta is not supported by this engine`, 'key')
      else meta.fail([key], `"${key}" is not a key of a role's meta/main.yml`, 'key')
    }
  }
  cache.set(dir, role)
  return role
}

/** A part of the role (ROLE/kind/main.yml, .yaml, .json or no extension; or the named file), parsed. */
function readPart(dir: string, kind: string, from?: string): Yaml | undefined {
  const base = join(dir, kind)
  if (!existsSync(base)) return undefined
  const main = from ?? 'main'
  const extensions = from === undefined ? ['.yml', '.yaml', '.json', ''] : ['', '.yml', '.yaml', '.json']
  for (const ext of extensions) {
    const file = join(base, main + ext)
    if (!existsSync(file)) continue
    if (statSync(file).isDirectory())
      throw new InputError(`a directory of ${kind} files is not supported by this engine (use one file)`, file)
    if (!resolve(file).startsWith(resolve(base) + '/'))
      throw new InputError(`"${main}" is not inside the role's ${kind}/ directory`, file)
    return parseYaml(readInput(file, `the role's ${kind} file`), file)
  }
  return undefined
}
