/** The logging wrapper: one line per call made and per request handled, with its outcome and time. */
import { MicaError } from '../../errors.ts'
import { systemClock, type Clock } from '../../clock.ts'
import type { Logger } from '../../kernel/options.ts'
import type { WrapperSet } from '../wrappers.ts'

export function loggingWrapper(
  logger: Pick<Logger, 'info'>,
  clock: Clock = systemClock,
): Required<Pick<WrapperSet, 'client' | 'handler' | 'subscriber'>> {
  const log = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    const start = clock.now()
    try {
      const out = await run()
      logger.info(`${what} ok in ${clock.now() - start} ms`)
      return out
    } catch (err) {
      const e = MicaError.from(err)
      logger.info(`${what} failed in ${clock.now() - start} ms: ${e.status} ${e.code} ${e.detail}`)
      throw err
    }
  }
  return {
    client: (next) => (req) => log(`call ${req.service} ${req.endpoint}`, () => next(req)),
    handler: (next) => (req) => log(`handle ${req.endpoint}`, () => next(req)),
    subscriber: (next) => (msg) => log(`message ${msg.topic}`, () => next(msg)),
  }
}
