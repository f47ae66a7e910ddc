// pause: waits `seconds` or `minutes` on the controller, as Ansible's pause action without a prompt (a
// prompt needs a terminal to answer it: refused). Registered as Ansible's: delta, start, stop, stdout.
import { defineTask } from '../src/task.ts'

export default defineTask<{ seconds?: number; minutes?: number }>({
  name: 'pause',
  description: 'wait a number of seconds or minutes',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      seconds: { type: 'number', minimum: 0, description: 'seconds' },
      minutes: { type: 'number', minimum: 0, description: 'minutes' },
    },
    minProperties: 1,
    maxProperties: 1,
    description: 'seconds or minutes (a prompt is not supported: nothing answers it)',
  },
  async run(_host, args) {
    const seconds = args.seconds ?? (args.minutes ?? 0) * 60
    const start = new Date()
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
    const stop = new Date()
    // Python's str(datetime.now()) and round(duration, 2) as a float prints ('1.0', '1.01').
    const stamp = (d: Date) => `${d.toISOString().replace('T', ' ').replace('Z', '')}000`
    const took = (stop.getTime() - start.getTime()) / 1000 / (args.minutes !== undefined ? 60 : 1)
    const rounded = Math.round(took * 100) / 100
    const shown = Number.isInteger(rounded) ? rounded.toFixed(1) : String(rounded)
    return {
      changed: false,
      data: {
        delta: Math.floor((stop.getTime() - start.getTime()) / 1000),
        echo: true,
        rc: 0,
        start: stamp(start),
        stop: stamp(stop),
        stderr: '',
        stdout: `Paused for ${shown} ${args.minutes !== undefined ? 'minutes' : 'seconds'}`,
        user_input: '',
      },
    }
  },
})
