// ssh2 ships no types (node-ssh's refer to @types/ssh2, which is not installed): the modules of it that ssh.ts
// imports, as loosely as ssh.ts uses them (its interfaces say what it relies on).
declare module 'ssh2/lib/client.js' {
  const Client: new () => unknown
  export default Client
}
declare module 'ssh2/lib/agent.js' {
  const agent: { BaseAgent: new () => object }
  export default agent
}
declare module 'ssh2/lib/protocol/keyParser.js' {
  const keyParser: { parseKey(data: string | Buffer, passphrase?: string): unknown }
  export default keyParser
}
