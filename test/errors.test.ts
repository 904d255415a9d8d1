// The error catalogue: one class per status, a stable wire shape, classes rebuilt on the far side of
// the wire, and every code documented in the README.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { MsgpackCodec } from '../src/codec/msgpack.ts'
import { reachedNoHandler } from '../src/service/client-options.ts'
import {
  AbortedError,
  BadRequestError,
  ConflictError,
  ErrorCode,
  ForbiddenError,
  InternalError,
  MicaError,
  NotFoundError,
  TimeoutError,
  TooManyRequestsError,
  UnauthorizedError,
  UnavailableError,
  errors,
  leftHandler,
  noHandlerRan,
} from '../src/errors.ts'

type Constructor = new (code: string, detail: string, id?: string) => MicaError

const CLASSES: [Constructor, number][] = [
  [BadRequestError, 400],
  [UnauthorizedError, 401],
  [ForbiddenError, 403],
  [NotFoundError, 404],
  [TimeoutError, 408],
  [ConflictError, 409],
  [TooManyRequestsError, 429],
  [AbortedError, 499],
  [InternalError, 500],
  [UnavailableError, 503],
]

const CONSTRUCTORS: [keyof typeof errors, Constructor, number, ErrorCode][] = [
  ['badRequest', BadRequestError, 400, ErrorCode.BAD_REQUEST],
  ['unauthorized', UnauthorizedError, 401, ErrorCode.UNAUTHORIZED],
  ['forbidden', ForbiddenError, 403, ErrorCode.FORBIDDEN],
  ['notFound', NotFoundError, 404, ErrorCode.ACTOR_NOT_FOUND],
  ['timeout', TimeoutError, 408, ErrorCode.TIMEOUT],
  ['conflict', ConflictError, 409, ErrorCode.CONFLICT],
  ['tooManyRequests', TooManyRequestsError, 429, ErrorCode.MAILBOX_FULL],
  ['internal', InternalError, 500, ErrorCode.INTERNAL],
  ['unavailable', UnavailableError, 503, ErrorCode.UNAVAILABLE],
]

const msgpack = new MsgpackCodec()
const viaJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value))
const viaMsgpack = (value: unknown): unknown => msgpack.decode(msgpack.encode(value))

function assertDecodeFailed(err: MicaError): void {
  assert.ok(err instanceof InternalError)
  assert.equal(err.status, 500)
  assert.equal(err.code, ErrorCode.DECODE_FAILED)
}

describe('error classes', () => {
  test('errors - every constructor in errors builds its class, status and code', () => {
    assert.deepEqual(Object.keys(errors).sort(), CONSTRUCTORS.map(([name]) => name).sort())
    for (const [name, Class, status, code] of CONSTRUCTORS) {
      const err = errors[name]('it went wrong', 'svc.a')
      assert.ok(err instanceof Class, name)
      assert.ok(err instanceof MicaError, name)
      assert.ok(err instanceof Error, name)
      assert.equal(err.status, status, name)
      assert.equal(err.code, code, name)
      assert.equal(err.detail, 'it went wrong', name)
      assert.equal(err.message, 'it went wrong', name)
      assert.equal(err.id, 'svc.a', name)
      assert.equal(err.name, Class.name, name)
    }
  })

  test('errors - the id defaults to mica', () => {
    assert.equal(errors.badRequest('x').id, 'mica')
    assert.equal(new ConflictError(ErrorCode.CONFLICT, 'x').id, 'mica')
  })

  test('errors - each class has its status and keeps the code it is given', () => {
    for (const [Class, status] of CLASSES) {
      const err = new Class('some_code', 'some detail', 'node-1')
      assert.equal(err.status, status, Class.name)
      assert.deepEqual(err.toWire(), { id: 'node-1', code: 'some_code', detail: 'some detail', status })
      assert.equal(err.name, Class.name)
    }
  })

  test('errors - AbortedError is 499 aborted', () => {
    const err = new AbortedError(ErrorCode.ABORTED, 'caller aborted')
    assert.equal(err.status, 499)
    assert.equal(err.code, 'aborted')
    assert.equal(err.name, 'AbortedError')
  })

  test('errors - toWire gives exactly id, code, detail and status', () => {
    const err = new TimeoutError(ErrorCode.TIMEOUT, 'no reply in 50ms', 'counter/1', {
      cause: new Error('c'),
    })
    assert.deepEqual(err.toWire(), {
      id: 'counter/1',
      code: 'timeout',
      detail: 'no reply in 50ms',
      status: 408,
    })
    assert.deepEqual(Object.keys(err.toWire()).sort(), ['code', 'detail', 'id', 'status'])
  })

  test('errors - retryable is true only for failures safe to retry', () => {
    for (const code of [
      ErrorCode.UNAVAILABLE,
      ErrorCode.KERNEL_STOPPED,
      ErrorCode.MAILBOX_FULL,
      ErrorCode.ACTOR_STOPPED,
    ]) {
      assert.equal(new MicaError(503, code, 'x').retryable, true, code)
    }
    for (const code of [
      ErrorCode.WORKER_CRASHED,
      ErrorCode.CONNECTION_LOST,
      ErrorCode.HANDLER_ERROR,
      ErrorCode.TIMEOUT,
      ErrorCode.BAD_REQUEST,
      ErrorCode.INTERNAL,
    ]) {
      assert.equal(new MicaError(500, code, 'x').retryable, false, code)
    }
    assert.equal(errors.tooManyRequests('full').retryable, true)
    assert.equal(errors.unavailable('down').retryable, true)
    assert.equal(errors.timeout('slow').retryable, false)
  })

  test('errors - a retryable code is retryable only from the runtime, not from a handler', () => {
    for (const id of ['mica', 'registry', 'transport', 'broker', 'journal', 'selector', 'counter/7']) {
      assert.equal(new UnavailableError(ErrorCode.UNAVAILABLE, 'x', id).retryable, true, id)
    }
    // stamped with an endpoint (a kernel handler) or a service name (a service handler): it ran
    for (const id of ['counter.add', 'greeter']) {
      assert.equal(new UnavailableError(ErrorCode.UNAVAILABLE, 'x', id).retryable, false, id)
      assert.equal(
        MicaError.fromWire({ id, code: 'mailbox_full', detail: 'x', status: 429 }).retryable,
        false,
      )
    }
  })

  test('errors - reachedNoHandler and retryable follow one rule: a before-handler code from a runtime id', () => {
    const codes = Object.values(ErrorCode)
    // the runtime, its plugins and the client's machinery, an actor address (its mailbox refused
    // the message), an endpoint or a service name (a handler's own answer)
    const ids = [
      'mica',
      'kernel',
      'client',
      'selector',
      'registry',
      'transport',
      'journal',
      'counter/7',
      'counter/',
    ]
    const handlers = ['counter.add', 'greeter']
    for (const code of codes) {
      for (const id of [...ids, ...handlers]) {
        const e = new MicaError(503, code, 'x', id)
        assert.equal(reachedNoHandler(e), noHandlerRan(e), `${code} ${id}`)
        if (e.retryable)
          assert.equal(reachedNoHandler(e), true, `retryable ${code} ${id} proves no handler ran`)
        if (handlers.includes(id)) assert.equal(reachedNoHandler(e), false, `${code} ${id}`)
      }
    }
    const full = new TooManyRequestsError(ErrorCode.MAILBOX_FULL, 'counter/7: mailbox full', 'counter/7')
    assert.equal(full.retryable, true)
    assert.equal(reachedNoHandler(full), true, "a full mailbox's refusal: no handler ran")
    for (const code of [ErrorCode.KIND_NOT_FOUND, ErrorCode.CIRCUIT_OPEN]) {
      const e = new MicaError(503, code, 'x', 'client')
      assert.deepEqual([e.retryable, reachedNoHandler(e)], [false, true], code)
    }
    for (const code of [ErrorCode.CONNECTION_LOST, ErrorCode.WORKER_CRASHED, ErrorCode.TIMEOUT]) {
      assert.equal(reachedNoHandler(new MicaError(503, code, 'x')), false, code)
    }
  })

  test('errors - leftHandler stamps whatever would prove no handler ran, and the runtime id', () => {
    const stamped = [
      errors.tooManyRequests('slow down'),
      new TooManyRequestsError(ErrorCode.MAILBOX_FULL, 'other/1: mailbox full', 'other/1'),
      new UnavailableError(ErrorCode.CIRCUIT_OPEN, 'circuit open', 'client'),
      new NotFoundError(ErrorCode.KIND_NOT_FOUND, 'no kind', 'kernel'),
      new InternalError(ErrorCode.INTERNAL, 'x'),
    ]
    for (const e of stamped) {
      const out = leftHandler(e, 'counter.add')
      assert.equal(out.id, 'counter.add', `${e.code} ${e.id}`)
      assert.deepEqual([out.retryable, reachedNoHandler(out)], [false, false], `${e.code} ${e.id}`)
    }
    // anything else keeps whose answer it is
    const other = new TimeoutError(ErrorCode.TIMEOUT, 'slow', 'other/1')
    assert.equal(leftHandler(other, 'counter.add'), other)
  })

  test('errors - withId keeps class, code, detail, status and cause under the new id', () => {
    const cause = new Error('db down')
    const original = new UnavailableError(ErrorCode.UNAVAILABLE, 'no db', 'mica', { cause })
    const stamped = original.withId('Greeter.hello')
    assert.ok(stamped instanceof UnavailableError)
    assert.deepEqual(stamped.toWire(), {
      id: 'Greeter.hello',
      code: 'unavailable',
      detail: 'no db',
      status: 503,
    })
    assert.equal(stamped.cause, cause)
    assert.equal(stamped.retryable, false)
    assert.equal(original.id, 'mica', 'the original is left as it was')
    assert.equal(original.withId('mica'), original)
    assert.equal(new MicaError(418, 'teapot', 'short', 'x').withId('y').status, 418)
  })
})

describe('errors on the wire', () => {
  for (const [via, roundTrip] of [
    ['json', viaJson],
    ['msgpack', viaMsgpack],
  ] as const) {
    test(`errors - fromWire rebuilds the same class after a ${via} round trip`, () => {
      for (const [Class, status] of CLASSES) {
        const original = new Class(`code_${status}`, `detail ${status}`, `node-${status}`)
        const rebuilt = MicaError.fromWire(roundTrip(original.toWire()))
        assert.ok(rebuilt instanceof Class, `${Class.name} via ${via}`)
        assert.equal(rebuilt.constructor, Class)
        assert.equal(rebuilt.name, Class.name)
        assert.deepEqual(rebuilt.toWire(), original.toWire())
        assert.equal(rebuilt.retryable, original.retryable)
      }
    })
  }

  test('errors - fromWire keeps a retryable code retryable', () => {
    const rebuilt = MicaError.fromWire(viaJson(new UnavailableError(ErrorCode.KERNEL_STOPPED, 'w').toWire()))
    assert.ok(rebuilt instanceof UnavailableError)
    assert.equal(rebuilt.retryable, true)
  })

  test('errors - an unknown status rebuilds as a plain MicaError', () => {
    const rebuilt = MicaError.fromWire({ id: 'x', code: 'teapot', detail: 'short and stout', status: 418 })
    assert.equal(rebuilt.constructor, MicaError)
    assert.equal(rebuilt.name, 'MicaError')
    assert.deepEqual(rebuilt.toWire(), { id: 'x', code: 'teapot', detail: 'short and stout', status: 418 })
  })

  test('errors - malformed wire values become InternalError decode_failed', () => {
    const good = { id: 'x', code: 'c', detail: 'd', status: 400 }
    const malformed: unknown[] = [
      null,
      undefined,
      'an error',
      42,
      [],
      {},
      { ...good, id: undefined },
      { ...good, code: undefined },
      { ...good, detail: undefined },
      { ...good, status: undefined },
      { ...good, id: 1 },
      { ...good, code: 400 },
      { ...good, detail: null },
      { ...good, status: '400' },
      { ...good, status: 400.5 },
      { ...good, status: Number.NaN },
    ]
    for (const value of malformed) assertDecodeFailed(MicaError.fromWire(value))
  })

  test('errors - from wraps a plain Error as handler_error with its cause', () => {
    const cause = new Error('x')
    const err = MicaError.from(cause, 'counter/7')
    assert.ok(err instanceof InternalError)
    assert.equal(err.status, 500)
    assert.equal(err.code, ErrorCode.HANDLER_ERROR)
    assert.equal(err.detail, 'x')
    assert.equal(err.id, 'counter/7')
    assert.equal(err.cause, cause)
    assert.equal(err.retryable, false)
  })

  test('errors - from wraps a thrown non-Error as handler_error', () => {
    const err = MicaError.from('just a string')
    assert.ok(err instanceof InternalError)
    assert.equal(err.code, ErrorCode.HANDLER_ERROR)
    assert.equal(err.detail, 'just a string')
    assert.equal(err.id, 'mica')
  })

  test('errors - from returns a MicaError unchanged', () => {
    const original = errors.notFound('gone')
    assert.equal(MicaError.from(original), original)
    const plain = new MicaError(418, 'teapot', 'tea')
    assert.equal(MicaError.from(plain, 'other-id'), plain)
  })
})

describe('errors documentation', () => {
  const readme = new URL('../README.md', import.meta.url)

  /** The lines of the README section that starts at `## Errors`, up to the next `#`/`##` heading. */
  function errorsSection(): string[] {
    let text: string
    try {
      text = readFileSync(readme, 'utf8')
    } catch {
      assert.fail('README.md is missing at the repo root')
    }
    const lines = text.split(/\r?\n/)
    const start = lines.findIndex((line) => line.trim() === '## Errors')
    assert.notEqual(start, -1, 'README.md has no "## Errors" section')
    const rest = lines.slice(start + 1)
    const end = rest.findIndex((line) => /^#{1,2}\s/.test(line))
    return end === -1 ? rest : rest.slice(0, end)
  }

  test('errors - every code is documented', () => {
    const section = errorsSection()
    const body = section.join('\n')
    const codes = new Set<string>(Object.values(ErrorCode))

    const missing = [...codes].filter((code) => !body.includes(`\`${code}\``))
    assert.deepEqual(missing, [], 'codes missing from the README Errors section')

    const tableRows = section.filter((line) => line.trim().startsWith('|'))
    const documented = tableRows
      .map((row) => row.trim().slice(1).split('|')[0]!)
      .flatMap((cell) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!))
      .filter((token) => /^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$/.test(token))
    assert.ok(documented.length > 0, 'the Errors section has no table of codes')
    const unknown = documented.filter((code) => !codes.has(code))
    assert.deepEqual(unknown, [], 'codes in the README table that ErrorCode does not define')
  })
})
