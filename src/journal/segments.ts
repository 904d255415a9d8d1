/**
 * The segment files of a file journal: `<dir>/segments/0000000001.seg`, `…2.seg`, … append-only, one
 * active (the highest) at a time. An append never spans two segments: a new one is started when the
 * next append would carry the active one past the size limit (an append larger than the limit gets a
 * segment of its own). A segment is fsynced before it is left, and the directory after a segment is
 * created, so only the tail of the last segment can ever be torn.
 */
import { mkdir, open, readdir, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'

export type SyncTarget = 'segment' | 'snapshot' | 'directory'

export function segmentName(n: number): string {
  return `${String(n).padStart(10, '0')}.seg`
}

/** Segment numbers present in `dir`, ascending. */
export async function listSegments(dir: string): Promise<number[]> {
  await mkdir(dir, { recursive: true })
  const names = await readdir(dir)
  return names
    .filter((n) => /^\d{10}\.seg$/.test(n))
    .map((n) => Number.parseInt(n, 10))
    .sort((a, b) => a - b)
}

export async function syncDirectory(dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

export interface SegmentOptions {
  dir: string
  segmentBytes: number
  /** Whether to fsync at all (the 'never' policy says no). */
  durable: boolean
  onSync: (target: SyncTarget) => void
}

export class Segments {
  readonly #options: SegmentOptions
  readonly #readers = new Map<number, FileHandle>()
  #active: { n: number; fh: FileHandle; size: number } | undefined

  constructor(options: SegmentOptions) {
    this.#options = options
  }

  /** Continues segment `n` (already repaired to `size` bytes), or starts segment 1. */
  async open(n: number | undefined, size: number): Promise<void> {
    if (n === undefined) return this.#create(1)
    this.#active = { n, fh: await open(this.path(n), 'a'), size }
  }

  /**
   * Writes each chunk (one append's bytes) at the end, as few writes as possible: every chunk that
   * fits in the active segment goes out in one write; a chunk that does not starts a new segment.
   * Returns where each chunk starts.
   */
  async write(chunks: readonly Buffer[]): Promise<{ segment: number; pos: number }[]> {
    const placed: { segment: number; pos: number }[] = []
    const limit = this.#options.segmentBytes
    for (let i = 0; i < chunks.length;) {
      let active = this.#activeOrThrow()
      if (active.size > 0 && active.size + chunks[i]!.length > limit) {
        await this.sync()
        await active.fh.close()
        await this.#create(active.n + 1)
        active = this.#activeOrThrow()
      }
      const take: Buffer[] = []
      let size = active.size
      while (i < chunks.length && (take.length === 0 || size + chunks[i]!.length <= limit)) {
        placed.push({ segment: active.n, pos: size })
        size += chunks[i]!.length
        take.push(chunks[i++]!)
      }
      const bytes = take.length === 1 ? take[0]! : Buffer.concat(take)
      const { bytesWritten } = await active.fh.write(bytes, 0, bytes.length)
      active.size += bytesWritten
      if (bytesWritten !== bytes.length)
        throw new Error(`short write: ${bytesWritten} of ${bytes.length} bytes`)
    }
    return placed
  }

  /** Makes everything written to the active segment durable (unless the policy is 'never'). */
  async sync(): Promise<void> {
    if (!this.#options.durable) return
    await this.#activeOrThrow().fh.sync()
    this.#options.onSync('segment')
  }

  path(n: number): string {
    return join(this.#options.dir, segmentName(n))
  }

  async read(segment: number, pos: number, len: number): Promise<Buffer> {
    let fh = this.#readers.get(segment)
    if (!fh) {
      fh = await open(this.path(segment), 'r')
      this.#readers.set(segment, fh)
    }
    const buf = Buffer.allocUnsafe(len)
    const { bytesRead } = await fh.read(buf, 0, len, pos)
    return bytesRead === len ? buf : buf.subarray(0, bytesRead)
  }

  async close(): Promise<void> {
    const handles = [...this.#readers.values(), ...(this.#active ? [this.#active.fh] : [])]
    this.#readers.clear()
    this.#active = undefined
    await Promise.allSettled(handles.map((fh) => fh.close()))
  }

  async #create(n: number): Promise<void> {
    this.#active = { n, fh: await open(this.path(n), 'a'), size: 0 }
    if (this.#options.durable) {
      await syncDirectory(this.#options.dir)
      this.#options.onSync('directory')
    }
  }

  #activeOrThrow(): { n: number; fh: FileHandle; size: number } {
    if (!this.#active) throw new Error('segments are closed')
    return this.#active
  }
}
