/**
 * Snapshots of the file journal, one file per persistence id in `<dir>/snapshots/`, named by the
 * SHA-256 of the id (ids may be 512 characters of anything but NUL; file names may not). Saving writes
 * a private temp file, fsyncs it, renames it over the old one and fsyncs the directory: a reader sees
 * the old snapshot or the new one, never a mix, even across a crash. Leftover temp files of a crashed
 * process are removed on start.
 *
 *   0  u32  crc     CRC32 of everything after it
 *   4  u16  idLength, then the id (UTF-8): checked on load against the id asked for
 *   .  u64  seq
 *   .  f64  ts
 *   .  …    bytes
 */
import { createHash, randomUUID } from 'node:crypto'
import { mkdir, open, readFile, readdir, rename, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { JournalCorruptError, type Snapshot } from './journal.ts'
import { syncDirectory, type SyncTarget } from './segments.ts'

export interface SnapshotFilesOptions {
  dir: string
  durable: boolean
  onSync: (target: SyncTarget) => void
}

export class SnapshotFiles {
  readonly #options: SnapshotFilesOptions
  /**
   * Paths of the snapshot files there are (read once at start, then kept): most ids have none, and
   * asking the file system first would cost a failed open per activation.
   */
  readonly #present = new Set<string>()

  constructor(options: SnapshotFilesOptions) {
    this.#options = options
  }

  async start(): Promise<void> {
    await mkdir(this.#options.dir, { recursive: true })
    const names = await readdir(this.#options.dir)
    await Promise.all(names.filter((n) => n.endsWith('.tmp')).map((n) => unlink(join(this.#options.dir, n))))
    for (const n of names) if (n.endsWith('.snap')) this.#present.add(join(this.#options.dir, n))
  }

  async save(id: string, snapshot: Snapshot): Promise<void> {
    const idBytes = Buffer.from(id, 'utf8')
    const buf = Buffer.allocUnsafe(4 + 2 + idBytes.length + 16 + snapshot.bytes.byteLength)
    let at = buf.writeUInt16LE(idBytes.length, 4)
    at += idBytes.copy(buf, at)
    at = buf.writeBigUInt64LE(BigInt(snapshot.seq), at)
    at = buf.writeDoubleLE(snapshot.ts, at)
    buf.set(snapshot.bytes, at)
    buf.writeUInt32LE(crc32(buf.subarray(4)), 0)
    const path = this.#path(id)
    const temp = `${path}.${randomUUID()}.tmp`
    const fh = await open(temp, 'w')
    try {
      await fh.writeFile(buf)
      if (this.#options.durable) {
        await fh.sync()
        this.#options.onSync('snapshot')
      }
    } finally {
      await fh.close()
    }
    await rename(temp, path)
    this.#present.add(path)
    if (this.#options.durable) {
      await syncDirectory(this.#options.dir)
      this.#options.onSync('directory')
    }
  }

  async load(id: string): Promise<Snapshot | undefined> {
    const path = this.#path(id)
    if (!this.#present.has(path)) return undefined
    let buf: Buffer
    try {
      buf = await readFile(path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
    const idLength = buf.length >= 6 ? buf.readUInt16LE(4) : 0
    if (buf.length < 6 + idLength + 16 || crc32(buf.subarray(4)) !== buf.readUInt32LE(0))
      throw new JournalCorruptError(path, 0, 'snapshot CRC mismatch')
    if (buf.toString('utf8', 6, 6 + idLength) !== id)
      throw new JournalCorruptError(path, 6, 'snapshot belongs to another persistence id')
    const at = 6 + idLength
    return {
      seq: Number(buf.readBigUInt64LE(at)),
      ts: buf.readDoubleLE(at + 8),
      bytes: new Uint8Array(buf.subarray(at + 16)),
    }
  }

  #path(id: string): string {
    return join(this.#options.dir, `${createHash('sha256').update(id).digest('hex')}.snap`)
  }
}
