// Raw baseline server of bench/remote.ts (plain JavaScript, no loader): a TCP echo over node:net on
// 127.0.0.1. A frame is a 4-byte big-endian length and that many bytes; the complete frames of one
// 'data' event are echoed in one write (mica's outbox also writes once per tick), a frame split
// across events is kept for the next. Says { ready: { port } } over IPC; on 'stop' (or when the
// parent goes away) closes every socket and the server, says { stopped: { echoed } }, disconnects.
import net from 'node:net'

const HEADER = 4
const sockets = new Set()
let echoed = 0

const server = net.createServer((socket) => {
  socket.setNoDelay(true)
  sockets.add(socket)
  let rest = null
  socket.on('data', (chunk) => {
    const buf = rest === null ? chunk : Buffer.concat([rest, chunk])
    const frames = []
    let bytes = 0
    let at = 0
    while (buf.length - at >= HEADER) {
      const length = buf.readUInt32BE(at)
      if (buf.length - at - HEADER < length) break
      frames.push(buf.subarray(at + HEADER, at + HEADER + length))
      bytes += HEADER + length
      at += HEADER + length
    }
    rest = at === buf.length ? null : buf.subarray(at)
    if (frames.length === 0) return
    const out = Buffer.allocUnsafe(bytes)
    let o = 0
    for (const frame of frames) {
      out.writeUInt32BE(frame.length, o)
      frame.copy(out, o + HEADER)
      o += HEADER + frame.length
    }
    echoed += frames.length
    socket.write(out)
  })
  socket.on('error', () => {})
  socket.on('close', () => sockets.delete(socket))
})

server.listen(0, '127.0.0.1', () => process.send({ ready: { port: server.address().port } }))

let stopping = false
function stop() {
  if (stopping) return
  stopping = true
  for (const socket of sockets) socket.destroy()
  server.close(() => {
    if (process.connected) process.send({ stopped: { echoed } }, () => process.disconnect())
  })
}
process.on('message', (message) => {
  if (message === 'stop') stop()
})
process.once('disconnect', stop)
