/**
 * A million idle actors on one node (`workers: 0`): spawn time, heap growth (measured after a full GC
 * when node runs with --expose-gc) and the time `kernel.stop()` then takes. Spawning stops at the time
 * bound; spawn time and heap are then projected linearly to the full count and the bench says so.
 */
import { createKernel, type Kernel } from '../../src/index.ts'
import { counter } from '../actors.ts'
import { now, verify } from './measure.ts'

export interface SpawnFigures {
  actors: number
  spawned: number
  seconds: number
  heapMb: number
  stopSeconds: number
  projected: boolean
}

export async function spawnBench(actors: number, maxMs: number): Promise<SpawnFigures> {
  const before = heapAfterGc()
  const kernel = await createKernel({ workers: 0 })
  let figures: Omit<SpawnFigures, 'stopSeconds'>
  try {
    figures = await fill(kernel, actors, maxMs, before)
  } catch (err) {
    await kernel.stop()
    throw err
  }
  const start = now()
  await kernel.stop()
  return { ...figures, stopSeconds: (now() - start) / 1000 }
}

async function fill(kernel: Kernel, actors: number, maxMs: number, heapBefore: number) {
  const start = now()
  let spawned = 0
  while (spawned < actors) {
    const end = Math.min(actors, spawned + 10_000)
    for (; spawned < end; spawned++) await kernel.spawn(counter, `id${spawned}`)
    if (now() - start >= maxMs) break
  }
  const seconds = (now() - start) / 1000
  const heapMb = (heapAfterGc() - heapBefore) / 2 ** 20
  const stats = await kernel.stats()
  verify(stats.actors === spawned, `kernel reports ${stats.actors} live actors of ${spawned} spawned`)
  const pick = kernel.ref<typeof counter>(`bcounter/id${Math.floor(Math.random() * spawned)}`)
  verify((await pick.ask('get')) === 0, `${pick.address} did not answer get with 0`)
  const added = await pick.ask('add', { by: 7 })
  verify(added === 7 && (await pick.ask('get')) === 7, `${pick.address} miscounted`)
  const k = actors / spawned
  return { actors, spawned, seconds: seconds * k, heapMb: heapMb * k, projected: k !== 1 }
}

function heapAfterGc(): number {
  globalThis.gc?.()
  globalThis.gc?.()
  return process.memoryUsage().heapUsed
}
