/**
 * The validation wrapper: checks each request against its endpoint's request schema before the
 * handler runs; a request that does not fit is a 400 naming the failing field (the handler never
 * sees it). Endpoints without a schema pass as they are.
 */
import { checkRequest } from '../schema.ts'
import type { HandlerWrapper } from '../wrappers.ts'

export function validationWrapper(): { handler: HandlerWrapper } {
  return {
    handler: (next) => (req) => {
      const schema = req.schema?.request
      if (schema !== undefined) checkRequest(req.endpoint, schema, req.body)
      return next(req)
    },
  }
}
