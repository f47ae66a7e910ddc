import { mkdirSync } from 'node:fs'
import { Lab } from './lab/lab.ts'
import { fleetPoint } from './bench/fleet.ts'
const lab = new Lab({ dir: '/tmp/speed-scratch/lab', net: '127.0.111' })
mkdirSync('/tmp/speed-scratch/fp', { recursive: true })
const p = await fleetPoint(lab, '/tmp/speed-scratch/fp', Number(process.argv[2]))
console.log(JSON.stringify(p, null, 1))
