/**
 * One process owns a journal directory, through `LOCK`, which holds the owner's pid and a random token.
 * The lock is created complete and atomically: the content is written to a private temp file which is
 * then hard-linked to `LOCK` (link fails with EEXIST like an O_EXCL create, but a reader never sees an
 * empty lock from a writer caught between create and write). A lock whose pid is dead (a crashed
 * process) is taken over by renaming our file over it and reading it back; two processes taking over
 * the same stale lock at the same instant is the one race left (both would have to see it dead).
 * A recycled pid makes a stale lock look live: the error names the pid so an operator can remove it.
 */
import { randomUUID } from 'node:crypto'
import { link, readFile, rename, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from '../kernel/options.ts'
import { JournalLockedError } from './journal.ts'

export const LOCK_FILE = 'LOCK'

export interface DirLock {
  release(): Promise<void>
}

export async function acquireLock(dir: string, logger: Pick<Logger, 'warn'>): Promise<DirLock> {
  const path = join(dir, LOCK_FILE)
  const token = `${process.pid}\n${randomUUID()}\n`
  const temp = join(dir, `${LOCK_FILE}.${process.pid}.${randomUUID()}.tmp`)
  await writeFile(temp, token)
  try {
    await link(temp, path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    const owner = ownerPid(await readFile(path, 'utf8').catch(() => ''))
    if (owner !== undefined && isAlive(owner)) throw new JournalLockedError(dir, owner)
    logger.warn(`journal ${dir}: taking over a stale lock of dead process ${owner ?? '(unreadable)'}`)
    await rename(temp, path)
    if ((await readFile(path, 'utf8')) !== token) {
      throw new JournalLockedError(dir, ownerPid(await readFile(path, 'utf8')) ?? -1)
    }
  } finally {
    await unlink(temp).catch(() => {})
  }
  return {
    async release() {
      // Only our own lock: never remove one that another process has taken over since.
      if ((await readFile(path, 'utf8').catch(() => '')) === token) await unlink(path).catch(() => {})
    },
  }
}

function ownerPid(content: string): number | undefined {
  const pid = Number.parseInt(content.split('\n')[0] ?? '', 10)
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
