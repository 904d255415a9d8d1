/**
 * A function (Go Micro's `micro.NewFunction`): a one-shot service. It serves until one request has
 * been handled and its reply has left, then stops (deregisters, drains, stops the kernel), and
 * `run()` resolves. Requests arriving after the first one find the service stopping (503, retryable
 * elsewhere). Its handlers run on the main thread (the counting wrapper lives there).
 */
import { BadRequestError, ErrorCode } from '../errors.ts'
import type { ServiceOptions } from './options.ts'
import { Service } from './service.ts'
import type { HandlerWrapper } from './wrappers.ts'

export function createFunction(options: ServiceOptions): Service {
  if (options.workers !== undefined && options.workers !== 0) {
    throw new BadRequestError(ErrorCode.INVALID_OPTIONS, 'service options: a function runs with workers: 0')
  }
  let handled = false
  const once: HandlerWrapper = (next) => async (req) => {
    try {
      return await next(req)
    } finally {
      if (!handled) {
        handled = true
        // after the reply has been handed back: the stop drains it out before the transport closes
        setImmediate(() => void service.stop())
      }
    }
  }
  const service: Service = new Service({
    ...options,
    wrappers: [{ handler: once }, ...(options.wrappers ?? [])],
  })
  return service
}
