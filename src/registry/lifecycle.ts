/** A registry's lifecycle (see src/lifecycle.ts): new, starting, started, stopped. */
import { Lifecycle as SharedLifecycle } from '../lifecycle.ts'

export class Lifecycle extends SharedLifecycle {
  constructor(registry: string) {
    super('registry', registry)
  }
}
