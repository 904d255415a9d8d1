/**
 * The baseline of `file_persist_per_s`: appends of the same bytes to one file with node:fs and the
 * same group commit as the file journal's `batch` policy — everything that arrived while the previous
 * write + fsync was in flight goes in one write and one fsync — with no framing, index or thread hop.
 */
import { open, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'

export class RawGroupCommit {
  #file: FileHandle | undefined
  #queue: { bytes: Uint8Array; done: () => void }[] = []
  #flushing = false

  async open(dir: string): Promise<void> {
    this.#file = await open(join(dir, 'raw.log'), 'a')
  }

  append(bytes: Uint8Array): Promise<void> {
    return new Promise((done) => {
      this.#queue.push({ bytes, done })
      if (!this.#flushing) void this.#flush()
    })
  }

  async #flush(): Promise<void> {
    this.#flushing = true
    while (this.#queue.length > 0) {
      const batch = this.#queue
      this.#queue = []
      await this.#file!.writev(batch.map((b) => b.bytes))
      await this.#file!.sync() // fsync, as the file journal does
      for (const b of batch) b.done()
    }
    this.#flushing = false
  }

  async close(): Promise<void> {
    await this.#file?.close()
  }
}
