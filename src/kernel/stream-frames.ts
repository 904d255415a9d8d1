/** Stream frames over the thread hop: a sink that posts them, and the dispatch of those received. */
import {
  F_STREAM_CANCEL,
  F_STREAM_CREDIT,
  F_STREAM_DATA,
  F_STREAM_END,
  type Frame,
  type StreamFrame,
} from './frames.ts'
import type { EncodedStreamSink } from './stream-open.ts'

export function frameSink(post: (frame: Frame) => void, sid: number): EncodedStreamSink {
  return {
    data: (b) => post([F_STREAM_DATA, sid, b]),
    end: () => post([F_STREAM_END, sid]),
    cancel: (e) => post([F_STREAM_CANCEL, sid, e]),
    credit: (n) => post([F_STREAM_CREDIT, sid, n]),
  }
}

/** Hands a received data/end/cancel/credit frame to `sink`; true when it was a cancel (the stream is over). */
export function dispatchStreamFrame(f: StreamFrame, sink: EncodedStreamSink): boolean {
  switch (f[0]) {
    case F_STREAM_DATA:
      sink.data(f[2])
      return false
    case F_STREAM_END:
      sink.end()
      return false
    case F_STREAM_CANCEL:
      sink.cancel(f[2])
      return true
    case F_STREAM_CREDIT:
      sink.credit(f[2])
      return false
    default:
      return false
  }
}
