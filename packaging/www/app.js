// midge status page: a small MQTT 3.1.1 client over WebSocket (subprotocol "mqtt") that
// subscribes to $SYS/# on the broker that served the page and draws what it reads.
// No libraries, no external resources. Query parameters (for tests and odd setups):
//   ?url=ws://host:port/path  broker to use (default: the page's own host and port, /mqtt)
//   ?base=PREFIX              topic tree to read instead of $SYS (PREFIX/# is subscribed)
//   ?keepalive=SECONDS        MQTT keep alive (default 30; a PINGREQ every half of it)
'use strict';

var enc = new TextEncoder(), dec = new TextDecoder();

function strBytes(s) {
  var b = enc.encode(s);
  return [b.length >> 8, b.length & 255].concat(Array.from(b));
}

// One packet: fixed header byte, Remaining Length varint [MQTT-2.2.3], body.
function packet(first, body) {
  var out = [first], n = body.length;
  do {
    var d = n % 128;
    n = Math.floor(n / 128);
    out.push(n > 0 ? d | 128 : d);
  } while (n > 0);
  return new Uint8Array(out.concat(body));
}

// Client: opts {url, keepalive (s), onMessage(topic, text, retained), onState(text, cls),
// onRefused(code)}.
function Mqtt(opts) {
  this.o = opts;
  this.user = null;
  this.pass = null;
  this.backoff = 1000;
  this.ws = null;
  this.timer = null;
}

Mqtt.prototype.connect = function () {
  var self = this, ws, old = this.ws;
  clearTimeout(this.timer);
  clearInterval(this.ping);
  if (old) {
    this.ws = null;
    old.close();
  }
  this.buf = new Uint8Array(0);
  this.up = false;
  this.refused = false;
  this.o.onState('connecting', '');
  try {
    ws = new WebSocket(this.o.url, ['mqtt']);
  } catch (e) {
    this.o.onState('bad url: ' + e.message, 'off');
    return;
  }
  ws.binaryType = 'arraybuffer';
  this.ws = ws;
  // A WebSocket handshake or CONNACK that does not come in 10 s: start again.
  this.timer = setTimeout(function () {
    if (ws === self.ws && !self.up) self.fail('no CONNACK in 10 s');
  }, 10000);
  ws.onopen = function () {
    // CONNECT [MQTT-3.1]: protocol name, level 4, flags, keep alive, then the payload.
    var flags = 2, payload = strBytes('midge-page-' + Math.random().toString(36).slice(2, 10));
    if (self.user !== null) {
      flags |= 0x80;
      payload = payload.concat(strBytes(self.user));
      if (self.pass !== null) {
        flags |= 0x40;
        payload = payload.concat(strBytes(self.pass));
      }
    }
    var ka = self.o.keepalive;
    self.send(packet(0x10, strBytes('MQTT').concat([4, flags, ka >> 8, ka & 255], payload)));
  };
  ws.onmessage = function (ev) {
    if (ws !== self.ws) return;
    var add = new Uint8Array(ev.data), b = new Uint8Array(self.buf.length + add.length);
    b.set(self.buf);
    b.set(add, self.buf.length);
    self.buf = b;
    self.parse();
  };
  ws.onclose = function () {
    if (ws !== self.ws) return;
    self.down();
  };
};

Mqtt.prototype.send = function (bytes) {
  if (this.ws && this.ws.readyState === 1) this.ws.send(bytes);
};

// Takes every complete packet out of this.buf; a packet may arrive split over several
// WebSocket messages or several in one message.
Mqtt.prototype.parse = function () {
  var b = this.buf, at = 0;
  while (b.length - at >= 2) {
    var len = 0, mul = 1, i = at + 1, done = false;
    while (i < b.length && i < at + 5) {
      len += (b[i] & 127) * mul;
      mul *= 128;
      if ((b[i++] & 128) === 0) { done = true; break; }
    }
    if (!done) {
      if (i >= at + 5) return this.fail('malformed packet');
      break;  // the length itself is still incomplete
    }
    if (b.length - i < len) break;
    this.handle(b[at], b.subarray(i, i + len));
    if (!this.ws) return;
    at = i + len;
  }
  this.buf = b.slice(at);
};

Mqtt.prototype.handle = function (first, body) {
  var type = first >> 4, self = this;
  if (type === 2) {  // CONNACK
    var rc = body[1];
    if (rc !== 0) {
      // 4 and 5 (credentials) wait for the form; others (3: server unavailable) retry.
      this.refused = rc === 4 || rc === 5;
      this.o.onRefused(rc);
      this.fail(this.refused ? null : 'refused (code ' + rc + ')');
      return;
    }
    clearTimeout(this.timer);
    this.up = true;
    this.connects = (this.connects || 0) + 1;
    this.backoff = 1000;
    this.o.onState('connected', 'on');
    this.o.onConnected();
    // SUBSCRIBE [MQTT-3.8.1-1]: flags 0010, packet id 1, one filter at QoS 0.
    this.send(packet(0x82, [0, 1].concat(strBytes(this.o.base + '/#'), [0])));
    this.pingOut = false;
    this.ping = setInterval(function () {
      if (self.pingOut) return self.fail('no PINGRESP');
      self.pingOut = true;
      self.send(new Uint8Array([0xc0, 0]));
    }, this.o.keepalive * 500);
  } else if (type === 3) {  // PUBLISH
    var qos = (first >> 1) & 3, tl = (body[0] << 8) | body[1], p = 2 + tl;
    var topic = dec.decode(body.subarray(2, p));
    if (qos > 0) {
      if (qos === 1) this.send(new Uint8Array([0x40, 2, body[p], body[p + 1]]));  // PUBACK
      p += 2;
    }
    this.o.onMessage(topic, dec.decode(body.subarray(p)), (first & 1) === 1);
  } else if (type === 9) {  // SUBACK
    if (body[2] === 0x80) this.o.onState('subscription refused', 'off');
  } else if (type === 13) {  // PINGRESP
    this.pingOut = false;
  }
};

Mqtt.prototype.fail = function (why) {
  var ws = this.ws;
  if (ws) {
    this.ws = null;
    ws.close();
  }
  this.down(why);
};

// Connection lost: reconnect after a growing delay (1 s doubling to 30 s, with jitter), unless
// the broker refused the credentials: then the page waits for the form.
Mqtt.prototype.down = function (why) {
  var self = this;
  clearInterval(this.ping);
  clearTimeout(this.timer);
  this.ws = null;
  this.up = false;
  if (this.refused) return;
  var wait = this.backoff * (0.75 + Math.random() / 2);
  this.backoff = Math.min(this.backoff * 2, 30000);
  if (why !== null) this.o.onState((why || 'disconnected') + ', retrying in ' + Math.round(wait / 1000) + ' s', 'off');
  this.timer = setTimeout(function () { self.connect(); }, wait);
};

// ---- the page ----

var q = new URLSearchParams(location.search);
var base = q.get('base') || '$SYS';
var url = q.get('url') ||
  (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/mqtt';
var $ = function (id) { return document.getElementById(id); };
var sys = {};          // topic below base -> latest text
var samples = [];      // {t, in, out} messages per second
var last = null;       // counters at the previous sample
var live = false;      // the burst being received has live (not retained) messages
var batchTimer = null;
var WINDOW = 300000;   // plotted span, ms

function num(k) {
  var v = parseFloat(sys[k]);
  return isNaN(v) ? null : v;
}

function setText(id, v) {
  var e = $(id);
  if (e.textContent !== String(v)) e.textContent = v;
}

function onMessage(topic, text, retained) {
  sys[topic.slice(base.length + 1)] = text;
  if (!retained) live = true;
  // The broker publishes its $SYS tree in one burst per interval; sample when it is over.
  clearTimeout(batchTimer);
  batchTimer = setTimeout(sample, 200);
}

// Rates from the PUBLISH counters between two live bursts, over the page's own clock. The
// retained copies sent on subscribing [MQTT-3.3.1-8] are of unknown age: shown, not sampled.
function sample() {
  var now = Date.now(), i = num('broker/publish/messages/received'), o = num('broker/publish/messages/sent');
  if (live && i !== null && o !== null) {
    if (last && i >= last.i && o >= last.o && now > last.t) {
      var s = (now - last.t) / 1000;
      samples.push({t: now, in: (i - last.i) / s, out: (o - last.o) / s});
    }
    last = {t: now, i: i, o: o};
  }
  live = false;
  while (samples.length && samples[0].t < now - WINDOW) samples.shift();
  render();
}

function rate(v) {
  return v >= 100 ? Math.round(v) : Math.round(v * 10) / 10;
}

// A row with a bar; red from 90 % unless `plan` (the memory plan reserves nearly all its budget).
function bar(name, used, cap, plan) {
  var pct = cap > 0 ? Math.min(100, used * 100 / cap) : 0;
  return '<tr data-name="' + name + '"><td>' + name + '</td><td class="bar"><div><span' +
    (pct >= 90 && !plan ? ' class="hi"' : '') + ' style="width:' + pct.toFixed(1) + '%"></span></div></td><td>' +
    (plan ? bytes(used) + ' / ' + bytes(cap) : used + ' / ' + cap) + '</td></tr>';
}

function bytes(n) {
  return n >= 1048576 ? (n / 1048576).toFixed(1) + ' MiB' : n >= 1024 ? (n / 1024).toFixed(1) + ' KiB' : n + ' B';
}

function esc(s) {
  return s.replace(/[&<>"]/g, function (c) { return '&#' + c.charCodeAt(0) + ';'; });
}

function setHTML(id, html) {
  if ($(id).innerHTML !== html) $(id).innerHTML = html;
}

function render() {
  var k, m, v;
  setText('clients', sys['broker/clients/connected'] || '-');
  setText('subs', sys['broker/subscriptions/count'] || '-');
  setText('retained', sys['broker/retained messages/count'] || '-');
  setText('dropped', sys['broker/publish/messages/dropped'] || '-');
  setText('version', sys['broker/version'] || '');
  setText('uptime', sys['broker/uptime'] ? 'up ' + sys['broker/uptime'] : '');
  var cur = samples[samples.length - 1];
  setText('rate-in', cur ? rate(cur.in) : '-');
  setText('rate-out', cur ? rate(cur.out) : '-');

  // Pools: every broker/midge/pools/NAME/{capacity,used} pair in the broker's order, the
  // memory plan first; tls_* pools (TLS session and handshake slots) go to the TLS section.
  var rows = '', tlsRows = '', names = [];
  v = sys['broker/midge/memory/reserved'];
  if (v) rows += bar('memory reserved', parseInt(v, 10), parseInt(sys['broker/midge/memory/budget'], 10) || 0, true);
  for (k in sys) {
    m = /^broker\/midge\/pools\/([^/]+)\/capacity$/.exec(k);
    if (m) names.push(m[1]);
  }
  names.forEach(function (n) {
    var r = bar(esc(n), num('broker/midge/pools/' + n + '/used') || 0, num('broker/midge/pools/' + n + '/capacity'));
    if (n.indexOf('tls_') === 0) tlsRows += r; else rows += r;
  });
  if (rows) setHTML('pools', rows);
  setHTML('tls-pools', tlsRows);

  // TLS: the handshake counters.
  rows = '';
  [['handshakes', 'handshakes completed'], ['handshakes_failed', 'handshakes failed'],
   ['refused_sessions', 'refused: sessions full'], ['refused_handshakes', 'refused: handshakes full']]
    .forEach(function (p) {
      v = sys['broker/midge/tls/' + p[0]];
      if (v !== undefined) rows += '<tr><td>' + p[1] + '</td><td id="tls-' + p[0] + '">' + esc(v) + '</td></tr>';
    });
  if (rows) setHTML('tls', rows);

  // Bridges: $SYS/broker/connection/NAME/state, "1" up, "0" down (Mosquitto's values).
  rows = '';
  for (k in sys) {
    m = /^broker\/connection\/(.+)\/state$/.exec(k);
    if (!m) continue;
    v = sys[k];
    rows += '<tr data-bridge="' + esc(m[1]) + '"><td>' + esc(m[1]) + '</td><td>' +
      (v === '1' ? 'connected' : v === '0' ? 'disconnected' : esc(v)) + '</td></tr>';
  }
  $('bridges-box').hidden = !rows;
  setHTML('bridges', rows);
  plot();
}

function plot() {
  var c = $('plot'), g = c.getContext('2d'), w = c.width, h = c.height, now = Date.now();
  var top = 1;
  samples.forEach(function (s) { top = Math.max(top, s.in, s.out); });
  g.clearRect(0, 0, w, h);
  g.strokeStyle = '#eee';
  g.fillStyle = '#777';
  g.font = '11px sans-serif';
  for (var j = 0; j <= 4; j++) {
    var y = 4 + (h - 8) * j / 4;
    g.beginPath();
    g.moveTo(0, y);
    g.lineTo(w, y);
    g.stroke();
    g.fillText(rate(top * (4 - j) / 4), 2, y + (j ? -2 : 10));
  }
  [['in', '#3f7fbf'], ['out', '#d84315']].forEach(function (p) {
    g.strokeStyle = p[1];
    g.lineWidth = 2;
    g.beginPath();
    samples.forEach(function (s, n) {
      var x = w - (now - s.t) * w / WINDOW, y = h - 4 - s[p[0]] * (h - 8) / top;
      if (n) g.lineTo(x, y); else g.moveTo(x, y);
    });
    g.stroke();
  });
  setText('peak', samples.length ? '(peak ' + rate(top) + ')' : '');
}

function onState(text, cls) {
  setText('state', text);
  $('state').className = cls;
}

var keepalive = Math.max(1, Math.min(65535, parseInt(q.get('keepalive'), 10) || 30));
var client = new Mqtt({url: url, base: base, keepalive: keepalive, onMessage: onMessage, onState: onState,
  onConnected: function () { last = null; live = false; },
  onRefused: function (rc) {
    // 3.1.1 CONNACK codes 4 (bad user name or password) and 5 (not authorized) ask for
    // credentials; others are shown as they are.
    var why = {1: 'protocol version refused', 2: 'client id refused', 3: 'server unavailable',
      4: 'bad user name or password', 5: 'not authorized'}[rc] || 'code ' + rc;
    onState('refused: ' + why, 'off');
    if (rc === 4 || rc === 5) {
      setText('login-why', 'The broker refused the connection (' + why + '). Enter a user name and password from its password_file.');
      $('login').hidden = false;
      $('user').focus();
    }
  }});

$('login-form').onsubmit = function (ev) {
  ev.preventDefault();
  client.user = $('user').value;
  client.pass = $('pass').value;
  $('login').hidden = true;
  client.connect();
};

setInterval(plot, 2000);
client.connect();
