/**
 * The responder's decisions, pure: which of our records answer a query, and whether the reply goes
 * back unicast. Answers echo the question's name as asked (DNS names compare case-insensitively, the
 * asker matches its own spelling), and every PTR answer brings the instance's SRV, TXT and A/AAAA as
 * additionals so one round trip resolves a node.
 *
 * Unicast (RFC 6762 §5.4, §6.7): a question with the QU bit, or any query from a port other than the
 * mDNS port (a "legacy" one-shot resolver such as `dig -p 5353 @224.0.0.251`), is answered to the
 * asker alone; a legacy reply also repeats the query id and questions, caps TTLs at 10 s and clears
 * the cache-flush bit, as the RFC asks. Not done: known-answer suppression and the random 20-120 ms
 * delay for shared records; mica networks are small and lookups are latency-sensitive.
 */
import type { Answer, Packet, Question } from 'dns-packet'
import { instanceName, instanceRecords, subtypeName, type Instance, type Names } from './mdns-records.ts'

export interface Owned {
  instance: Instance
  /** Seconds left before this node's records expire. */
  ttl: number
}

export interface Reply {
  packet: Packet
  unicast: boolean
}

const LEGACY_MAX_TTL = 10
const QU_BIT = 0x8000

/**
 * The question's class with the QU bit apart. dns-packet 5 turns the class into a string before it
 * tests the QU bit (so its own test never fires): IN with QU arrives as `UNKNOWN_32769`.
 */
function classOf(question: Question): { qu: boolean } | undefined {
  const klass = question.class as string | undefined
  if (klass === undefined || klass === 'IN' || klass === 'ANY') return { qu: false }
  const code = Number(/^UNKNOWN_(\d+)$/.exec(klass)?.[1])
  const base = code & ~QU_BIT
  return code & QU_BIT && (base === 1 || base === 255) ? { qu: true } : undefined
}

export function replyTo(
  query: Packet,
  fromPort: number,
  mdnsPort: number,
  owned: Owned[],
  names: Names,
): Reply | undefined {
  const legacy = fromPort !== mdnsPort
  let unicast = legacy
  const answers: Answer[] = []
  const additionals: Answer[] = []
  for (const question of query.questions ?? []) {
    const klass = classOf(question)
    if (klass === undefined) continue
    const asked = question.name.toLowerCase()
    // @types/dns-packet leaves ANY out of RecordType; dns-packet itself decodes qtype 255 as 'ANY'
    const qtype: string = question.type
    const wants = (type: string): boolean => qtype === type || qtype === 'ANY'
    const before = answers.length
    if (asked === names.enumeration.toLowerCase() && wants('PTR') && owned.length > 0) {
      const ttl = Math.max(...owned.map((o) => o.ttl))
      answers.push({ name: question.name, type: 'PTR', ttl, data: names.type })
    }
    for (const { instance, ttl } of owned) {
      const r = instanceRecords(instance, ttl, names)
      const browsed =
        asked === names.type.toLowerCase() ||
        instance.services.some((s) => subtypeName(s.name, names).toLowerCase() === asked)
      const full = [r.srv, r.txt, ...(r.host ? [r.host] : [])]
      if (browsed && wants('PTR')) {
        answers.push({ ...r.ptr, name: question.name } as Answer)
        additionals.push(...full)
      } else if (asked === instanceName(instance.nodeId, names).toLowerCase()) {
        if (wants('SRV')) answers.push(r.srv)
        if (wants('TXT')) answers.push(r.txt)
        additionals.push(...full)
      } else if (r.host && asked === r.host.name.toLowerCase() && wants(r.host.type)) {
        answers.push(r.host)
      }
    }
    if (answers.length > before && klass.qu) unicast = true
  }
  if (answers.length === 0) return undefined
  const extra = unique(additionals, answers)
  if (!legacy) return { packet: { answers, additionals: extra }, unicast }
  return {
    packet: {
      id: query.id ?? 0,
      questions: (query.questions ?? []).map((q) => ({ name: q.name, type: q.type, class: 'IN' })),
      answers: answers.map(forLegacy),
      additionals: extra.map(forLegacy),
    },
    unicast: true,
  }
}

function forLegacy(answer: Answer): Answer {
  const ttl = 'ttl' in answer ? Math.min(answer.ttl ?? 0, LEGACY_MAX_TTL) : 0
  return { ...answer, ttl, flush: false } as Answer
}

/** `additionals` without the records already in `answers`, each once. */
function unique(additionals: Answer[], answers: Answer[]): Answer[] {
  const seen = new Set(answers.map(keyOf))
  return additionals.filter((a) => !seen.has(keyOf(a)) && seen.add(keyOf(a)))
}

function keyOf(answer: Answer): string {
  return `${answer.type} ${answer.name.toLowerCase()}`
}
