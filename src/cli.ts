// Placeholder until the engine lands (issue 4): prints usage so `npx deploy --help` works.
const usage = `Usage: deploy --inventory FILE [PLAYBOOK] [options]

Rolls hbmon out over SSH: builds the module against each host's kernel headers, installs it with its
rsyslog rule and logrotate script, loads and verifies it, batch by batch, with rollback.

Options:
  -i, --inventory FILE   Ansible-style YAML inventory
  -h, --help             show this help

The engine is not written yet: only --help works.
`

const args = process.argv.slice(2)
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(usage)
  process.exit(0)
}
process.stderr.write(usage)
process.exit(4)
