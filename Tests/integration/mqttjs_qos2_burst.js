// A burst of QoS 2 publications from MQTT.js (Debian's node-mqtt), all sent at once.
//
//   node mqttjs_qos2_burst.js PORT PROTOCOL_VERSION(3|4|5) TOPIC COUNT TIMEOUT_MS
//
// One client connects (clean session, never reconnects) and publishes COUNT QoS 2 messages
// to TOPIC without waiting between them (payloads "0" .. "COUNT-1"): MQTT.js puts every
// PUBLISH on the wire before the broker's first PUBREC comes back, so the broker holds up to
// COUNT unreleased packet ids of this client at once. When every publication completed
// (PUBCOMP), or on error, close or timeout, it prints one JSON line
//   {"version", "acked", "errors", "closed", "error"?}
// and exits 0 (all acknowledged, never closed) or 1. A subscriber outside checks delivery.
'use strict'

const mqtt = require('./mqttjs_load.js')()

const [port, version, topic, count, timeoutMs] = process.argv.slice(2)
const protocolVersion = Number(version)
const total = Number(count)
const result = { version: protocolVersion, acked: 0, errors: [], closed: false }
let finished = false
let client = null

function finish (error) {
  if (finished) return
  finished = true
  if (error) result.error = String(error && error.stack ? error.stack : error)
  process.stdout.write(JSON.stringify(result) + '\n')
  const code = error ? 1 : 0
  if (client && !error) {
    client.end(false, {}, () => process.exit(code)) // a clean DISCONNECT
    setTimeout(() => process.exit(code), 2000)
  } else {
    if (client) client.end(true)
    setImmediate(() => process.exit(code))
  }
}

setTimeout(() => finish(new Error(`timeout after ${timeoutMs} ms with ${result.acked} of ${total} acknowledged`)), Number(timeoutMs))

const options = {
  protocolVersion,
  clientId: `mqttjs-burst-${protocolVersion}-${process.pid}`,
  clean: true,
  reconnectPeriod: 0, // never reconnect: a disconnect is a failure here
  connectTimeout: Number(timeoutMs)
}
if (protocolVersion === 3) options.protocolId = 'MQIsdp'

client = mqtt.connect(`mqtt://127.0.0.1:${port}`, options)
client.on('error', (err) => result.errors.push(err.message))
client.on('close', () => {
  if (finished) return
  result.closed = true
  finish(new Error(`connection closed with ${result.acked} of ${total} acknowledged`))
})
client.once('connect', () => {
  for (let i = 0; i < total; i++) {
    client.publish(topic, String(i), { qos: 2 }, (err) => {
      if (err) {
        result.errors.push(err.message)
        return finish(err)
      }
      result.acked += 1 // PUBCOMP came back
      if (result.acked === total) finish(null)
    })
  }
})
