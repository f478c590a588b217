// One QoS 0/1/2 round trip through the broker with MQTT.js (Debian's node-mqtt).
//
//   node mqttjs_roundtrip.js PORT PROTOCOL_VERSION(4|5) TOPIC_PREFIX TIMEOUT_MS GRACE_MS [URL [CA_FILE]]
//
// URL (default mqtt://127.0.0.1:PORT) may be ws://... or wss://... (MQTT over WebSockets, with
// Debian's node-ws); CA_FILE: the CA that signed the server's certificate (wss).
// A subscriber subscribes to PREFIX/# at QoS 2; a publisher then publishes one message at
// each QoS (MQTT 5: with a user property) and waits for its acknowledgement. The subscriber
// collects messages until it has three, plus GRACE_MS to catch duplicates, then prints one
// JSON line (connack, granted QoS, publish acks, received messages) and exits 0; on timeout
// or error it prints the same JSON with "error" set and exits 1.
'use strict'

const mqtt = require('./mqttjs_load.js')()

const [port, version, prefix, timeoutMs, graceMs, urlArg, caFile] = process.argv.slice(2)
const protocolVersion = Number(version)
const url = urlArg || `mqtt://127.0.0.1:${port}`
const ca = caFile ? require('fs').readFileSync(caFile) : undefined
const result = { version: protocolVersion, connack: {}, granted: null, acks: [], received: [] }
const clients = []
let finished = false

function finish (error) {
  if (finished) return
  finished = true
  if (error) result.error = String(error && error.stack ? error.stack : error)
  process.stdout.write(JSON.stringify(result) + '\n')
  for (const c of clients) c.end(true)
  // Leave once stdout is flushed, whatever sockets remain.
  setImmediate(() => process.exit(error ? 1 : 0))
}

setTimeout(() => finish(new Error(`timeout after ${timeoutMs} ms`)), Number(timeoutMs))

function client (name) {
  const c = mqtt.connect(url, {
    protocolVersion,
    clientId: `mqttjs-${name}-${protocolVersion}-${process.pid}`,
    clean: true,
    reconnectPeriod: 0, // never reconnect: a disconnect is a failure here
    connectTimeout: Number(timeoutMs),
    ...(ca ? { ca, servername: 'localhost' } : {})
  })
  clients.push(c)
  c.on('error', (err) => finish(new Error(`${name}: ${err.message}`)))
  c.on('close', () => { if (!finished && result.received.length < 3) finish(new Error(`${name}: connection closed`)) })
  c.on('connect', (connack) => {
    result.connack[name] = { returnCode: connack.returnCode, reasonCode: connack.reasonCode, sessionPresent: connack.sessionPresent }
  })
  return c
}

const sub = client('sub')
sub.on('message', (topic, payload, packet) => {
  result.received.push({
    topic,
    payload: payload.toString('utf8'),
    qos: packet.qos,
    retain: packet.retain,
    dup: packet.dup,
    userProperties: (packet.properties && packet.properties.userProperties) || null
  })
  if (result.received.length === 3) setTimeout(() => finish(null), Number(graceMs))
})

sub.on('connect', () => {
  sub.subscribe(`${prefix}/#`, { qos: 2 }, (err, granted) => {
    if (err) return finish(err)
    result.granted = granted.map((g) => g.qos)
    publish()
  })
})

function publish () {
  const pub = client('pub')
  pub.on('connect', () => {
    let chain = Promise.resolve()
    for (const qos of [0, 1, 2]) {
      const options = { qos }
      if (protocolVersion === 5) options.properties = { userProperties: { from: 'mqtt.js', qos: String(qos) } }
      chain = chain.then(() => new Promise((resolve, reject) => {
        pub.publish(`${prefix}/q${qos}`, `qos ${qos} from mqtt.js v${protocolVersion}`, options, (err) => {
          if (err) return reject(err)
          result.acks.push(qos) // QoS 0: written; 1: PUBACK; 2: PUBCOMP
          resolve()
        })
      }))
    }
    chain.catch(finish)
  })
}
