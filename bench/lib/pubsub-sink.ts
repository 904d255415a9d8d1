// The subscriber of bench/pubsub.ts (no side effects on import: workers load this module). Two keyed
// sinks share a queue group; each counts what it handled, samples latency (publish time rides in the
// message as epoch ms with sub-ms precision, comparable across threads), and every BATCH messages
// publishes its count on `bench.ack`, which is how the publisher keeps its window.
import { performance } from 'node:perf_hooks'
import { defineActor } from '../../src/actors/define.ts'

export const BATCH = 100
const SAMPLE_EVERY = 8

export const sink = defineActor({
  kind: 'bench-sink',
  initial: () => ({ count: 0, samples: [] as number[] }),
  handlers: {
    tick(msg: { t: number }, ctx) {
      const s = ctx.state
      s.count++
      if (s.count % SAMPLE_EVERY === 0 && s.samples.length < 50_000)
        s.samples.push(performance.timeOrigin + performance.now() - msg.t)
      if (s.count % BATCH === 0) ctx.publish('bench.ack', { id: ctx.id, count: s.count })
    },
    count(_msg: void, ctx) {
      return ctx.state.count
    },
    /** Count and latency samples (at most 50,000: the reply stays under the 1 MiB message limit). */
    report(_msg: void, ctx) {
      return { count: ctx.state.count, samples: ctx.state.samples }
    },
  },
})
