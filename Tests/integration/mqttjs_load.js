// Loads MQTT.js (Debian's node-mqtt) for the test scripts. Debian installs it under
// /usr/share/nodejs (arch-specific modules under /usr/lib/nodejs); Debian's own nodejs
// searches there, another node (e.g. NodeSource's) needs NODE_PATH, which the pytest wrappers
// set; run by hand, this sets it itself.
'use strict'

const Module = require('module')

module.exports = function loadMqtt () {
  try {
    return require('mqtt')
  } catch (err) {
    if (err.code !== 'MODULE_NOT_FOUND') throw err
    const extra = ['/usr/share/nodejs', '/usr/lib/nodejs']
    const path = require('path')
    process.env.NODE_PATH = [process.env.NODE_PATH, ...extra].filter(Boolean).join(path.delimiter)
    Module._initPaths() // re-read NODE_PATH (node's documented-in-source private hook)
    return require('mqtt')
  }
}
