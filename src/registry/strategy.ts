/**
 * Strategies: how the selector picks one node among the candidates, as plain functions (Go Micro's
 * `selector.Strategy`). Each factory returns a fresh function that owns whatever state it needs (the
 * round-robin counter), so two selectors never share one. Randomness is injected (`random(rand)`).
 * A strategy returns `undefined` only for an empty list; the selector never calls it with one.
 */
import type { Node } from './selector.ts'

export type Strategy = (nodes: readonly Node[], key?: string) => Node | undefined

/** Uniformly random, from `rand` (a function returning [0, 1), like Math.random). The default. */
export function random(rand: () => number = Math.random): Strategy {
  return (nodes) => {
    if (nodes.length === 0) return undefined
    return nodes[Math.min(nodes.length - 1, Math.floor(rand() * nodes.length))]
  }
}

/**
 * Each node in turn, from its own counter. Starts at the first node (Go Micro starts at a random
 * one; pass `random` for spread across many short-lived selectors). Membership changes shift the
 * cycle but never stall it.
 */
export function roundRobin(): Strategy {
  let count = 0
  return (nodes) => {
    if (nodes.length === 0) return undefined
    const node = nodes[count % nodes.length]
    count = (count + 1) % Number.MAX_SAFE_INTEGER
    return node
  }
}

/**
 * Rendezvous (highest-random-weight) hashing: every node scores `hash53(key, node.id)` and the highest
 * wins, so a key lands on the same node for as long as membership is stable, and when a node joins or
 * leaves only the keys it wins or held move (about 1/N of them), without a ring or virtual nodes.
 * The order of `nodes` does not matter (ties, at odds of 2^-53, go to the smaller id). Without a key
 * it scores the empty key: stable, but every unkeyed call goes to one node.
 */
export function rendezvous(): Strategy {
  return (nodes, key = '') => {
    let best: Node | undefined
    let bestScore = -1
    for (const node of nodes) {
      const score = hash53(`${key}\u0000${node.id}`)
      if (score > bestScore || (score === bestScore && best !== undefined && node.id < best.id)) {
        best = node
        bestScore = score
      }
    }
    return best
  }
}

/**
 * A 53-bit string hash with full avalanche (bryc's public-domain cyrb53: two multiply-xor lanes and a
 * murmur3-style finaliser), exact in a JS number. Not cryptographic; nothing here needs it to be.
 */
export function hash53(text: string, seed = 0): number {
  let h1 = 0xdeadbeef ^ seed
  let h2 = 0x41c6ce57 ^ seed
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    h1 = Math.imul(h1 ^ c, 2654435761)
    h2 = Math.imul(h2 ^ c, 1597334677)
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507)
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909)
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507)
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909)
  return 4294967296 * (2097151 & h2) + (h1 >>> 0)
}
