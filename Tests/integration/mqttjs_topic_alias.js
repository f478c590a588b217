// Server-to-client topic aliases with MQTT.js (Debian's node-mqtt), MQTT 5.
//
//   node mqttjs_topic_alias.js PORT TOPIC_ALIAS_MAXIMUM TOPICS COUNT TIMEOUT_MS
//
// A subscriber connects with Topic Alias Maximum TOPIC_ALIAS_MAXIMUM and subscribes to
// alias/#; a publisher (no aliases) then publishes COUNT QoS 1 messages round robin over TOPICS
// topics of 60 bytes, each payload naming its topic. MQTT.js resolves the aliases it receives
// (lib/client.js, topicAliasRecv). Prints one JSON line: the messages received (topic as
// MQTT.js reports it, payload, Topic Alias property) and exits 0; on timeout or error the same
// JSON with "error" set and exit 1.
'use strict'

const mqtt = require('./mqttjs_load.js')()

const [port, aliasMax, topicCount, count, timeoutMs] = process.argv.slice(2).map(Number)
const url = `mqtt://127.0.0.1:${port}`
const result = { received: [] }
const clients = []
let finished = false

function finish (error) {
  if (finished) return
  finished = true
  if (error) result.error = String(error && error.stack ? error.stack : error)
  process.stdout.write(JSON.stringify(result) + '\n')
  for (const c of clients) c.end(true)
  setImmediate(() => process.exit(error ? 1 : 0))
}

setTimeout(() => finish(new Error(`timeout after ${timeoutMs} ms`)), timeoutMs)

function topic (i) {
  const t = `alias/${String(i % topicCount).padStart(2, '0')}/`
  return t + 'x'.repeat(60 - t.length) // 60 bytes
}

const sub = mqtt.connect(url, {
  protocolVersion: 5, clientId: `mqttjs-alias-sub-${process.pid}`, clean: true, reconnectPeriod: 0,
  connectTimeout: timeoutMs, topicAliasMaximum: aliasMax
})
clients.push(sub)
sub.on('error', (err) => finish(new Error(`sub: ${err.message}`)))
sub.on('message', (t, payload, packet) => {
  const alias = packet.properties && packet.properties.topicAlias
  result.received.push({ topic: t, payload: payload.toString('utf8'), alias: alias === undefined ? null : alias })
  if (result.received.length === count) finish(null)
})
sub.on('connect', () => {
  sub.subscribe('alias/#', { qos: 1 }, (err) => {
    if (err) return finish(err)
    const pub = mqtt.connect(url, {
      protocolVersion: 5, clientId: `mqttjs-alias-pub-${process.pid}`, clean: true, reconnectPeriod: 0,
      connectTimeout: timeoutMs
    })
    clients.push(pub)
    pub.on('error', (e) => finish(new Error(`pub: ${e.message}`)))
    pub.on('connect', () => {
      let i = 0
      const next = () => {
        if (i === count) return
        const t = topic(i)
        pub.publish(t, `${i} ${t}`, { qos: 1 }, (e) => { if (e) return finish(e); i += 1; next() })
      }
      next()
    })
  })
})
