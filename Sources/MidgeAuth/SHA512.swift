// SHA-512 (FIPS 180-4, RFC 6234), HMAC-SHA512 (RFC 2104) and PBKDF2-HMAC-SHA512 (RFC 8018),
// the hashes behind mosquitto_passwd's `$6$` and `$7$` entries. Pure Swift, no allocation:
// the state and the message schedule live on the stack (InlineArray), so a password check
// after startup costs only CPU time: two compression-function calls per PBKDF2 iteration
// (the HMAC key's inner and outer blocks are hashed once per check, not per iteration).

public struct SHA512 {
  public static let digestBytes = 64
  static let blockBytes = 128
  static let k: [80 of UInt64] = [
    0x428a2f98d728ae22, 0x7137449123ef65cd, 0xb5c0fbcfec4d3b2f, 0xe9b5dba58189dbbc, 0x3956c25bf348b538,
    0x59f111f1b605d019, 0x923f82a4af194f9b, 0xab1c5ed5da6d8118, 0xd807aa98a3030242, 0x12835b0145706fbe,
    0x243185be4ee4b28c, 0x550c7dc3d5ffb4e2, 0x72be5d74f27b896f, 0x80deb1fe3b1696b1, 0x9bdc06a725c71235,
    0xc19bf174cf692694, 0xe49b69c19ef14ad2, 0xefbe4786384f25e3, 0x0fc19dc68b8cd5b5, 0x240ca1cc77ac9c65,
    0x2de92c6f592b0275, 0x4a7484aa6ea6e483, 0x5cb0a9dcbd41fbd4, 0x76f988da831153b5, 0x983e5152ee66dfab,
    0xa831c66d2db43210, 0xb00327c898fb213f, 0xbf597fc7beef0ee4, 0xc6e00bf33da88fc2, 0xd5a79147930aa725,
    0x06ca6351e003826f, 0x142929670a0e6e70, 0x27b70a8546d22ffc, 0x2e1b21385c26c926, 0x4d2c6dfc5ac42aed,
    0x53380d139d95b3df, 0x650a73548baf63de, 0x766a0abb3c77b2a8, 0x81c2c92e47edaee6, 0x92722c851482353b,
    0xa2bfe8a14cf10364, 0xa81a664bbc423001, 0xc24b8b70d0f89791, 0xc76c51a30654be30, 0xd192e819d6ef5218,
    0xd69906245565a910, 0xf40e35855771202a, 0x106aa07032bbd1b8, 0x19a4c116b8d2d0c8, 0x1e376c085141ab53,
    0x2748774cdf8eeb99, 0x34b0bcb5e19b48a8, 0x391c0cb3c5c95a63, 0x4ed8aa4ae3418acb, 0x5b9cca4f7763e373,
    0x682e6ff3d6b2b8a3, 0x748f82ee5defb2fc, 0x78a5636f43172f60, 0x84c87814a1f0ab72, 0x8cc702081a6439ec,
    0x90befffa23631e28, 0xa4506cebde82bde9, 0xbef9a3f7b2c67915, 0xc67178f2e372532b, 0xca273eceea26619c,
    0xd186b8c721c0c207, 0xeada7dd6cde0eb1e, 0xf57d4f7fee6ed178, 0x06f067aa72176fba, 0x0a637dc5a2c898a6,
    0x113f9804bef90dae, 0x1b710b35131c471b, 0x28db77f523047d84, 0x32caab7b40c72493, 0x3c9ebe0a15c9bebc,
    0x431d67c49c100d4c, 0x4cc5d4becb3e42b6, 0x597f299cfc657e2a, 0x5fcb6fab3ad6faec, 0x6c44198c4a475817,
  ]

  var h: [8 of UInt64] = [
    0x6a09e667f3bcc908, 0xbb67ae8584caa73b, 0x3c6ef372fe94f82b, 0xa54ff53a5f1d36f1,
    0x510e527fade682d1, 0x9b05688c2b3e6c1f, 0x1f83d9abfb41bd6b, 0x5be0cd19137e2179,
  ]
  var block: [128 of UInt8] = .init(repeating: 0)
  var used = 0
  var total: UInt64 = 0

  public init() {}

  public mutating func update(_ bytes: UnsafeRawBufferPointer) {
    var i = 0
    while i < bytes.count {
      block[used] = bytes[i]
      used += 1
      i += 1
      if used == SHA512.blockBytes {
        compress()
        used = 0
      }
    }
    total &+= UInt64(bytes.count)
  }

  /// Writes the 64-byte digest to `out` (at least 64 bytes). The state is spent afterwards.
  public mutating func finish(into out: UnsafeMutableRawBufferPointer) {
    precondition(out.count >= SHA512.digestBytes, "digest buffer too small")
    let bits = total &* 8
    block[used] = 0x80
    used += 1
    if used > 112 {
      while used < SHA512.blockBytes {
        block[used] = 0
        used += 1
      }
      compress()
      used = 0
    }
    while used < 120 {
      block[used] = 0
      used += 1
    }
    var j = 0
    while j < 8 {
      block[120 + j] = UInt8(truncatingIfNeeded: bits >> UInt64(56 - 8 * j))
      j += 1
    }
    compress()
    used = 0
    var w = 0
    while w < 8 {
      var b = 0
      while b < 8 {
        out[w * 8 + b] = UInt8(truncatingIfNeeded: h[w] >> UInt64(56 - 8 * b))
        b += 1
      }
      w += 1
    }
  }

  @inline(__always) static func rotr(_ x: UInt64, _ n: UInt64) -> UInt64 { (x >> n) | (x << (64 - n)) }

  mutating func compress() {
    var w: [16 of UInt64] = .init(repeating: 0)
    var t = 0
    while t < 16 {
      var v: UInt64 = 0
      var b = 0
      while b < 8 {
        v = v << 8 | UInt64(block[t * 8 + b])
        b += 1
      }
      w[t] = v
      t += 1
    }
    var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7]
    t = 0
    while t < 80 {
      let wt: UInt64
      if t < 16 {
        wt = w[t]
      } else {
        let w15 = w[(t - 15) & 15], w2 = w[(t - 2) & 15]
        let s0 = SHA512.rotr(w15, 1) ^ SHA512.rotr(w15, 8) ^ (w15 >> 7)
        let s1 = SHA512.rotr(w2, 19) ^ SHA512.rotr(w2, 61) ^ (w2 >> 6)
        wt = w[t & 15] &+ s0 &+ w[(t - 7) & 15] &+ s1
        w[t & 15] = wt
      }
      let s1 = SHA512.rotr(e, 14) ^ SHA512.rotr(e, 18) ^ SHA512.rotr(e, 41)
      let ch = (e & f) ^ (~e & g)
      let t1 = hh &+ s1 &+ ch &+ SHA512.k[t] &+ wt
      let s0 = SHA512.rotr(a, 28) ^ SHA512.rotr(a, 34) ^ SHA512.rotr(a, 39)
      let maj = (a & b) ^ (a & c) ^ (b & c)
      let t2 = s0 &+ maj
      hh = g
      g = f
      f = e
      e = d &+ t1
      d = c
      c = b
      b = a
      a = t1 &+ t2
      t += 1
    }
    h[0] &+= a
    h[1] &+= b
    h[2] &+= c
    h[3] &+= d
    h[4] &+= e
    h[5] &+= f
    h[6] &+= g
    h[7] &+= hh
  }
}

/// HMAC-SHA512 with the key's inner and outer states computed once.
public struct HMACSHA512 {
  var inner = SHA512()
  var outer = SHA512()

  public init(key: UnsafeRawBufferPointer) {
    var pad: [128 of UInt8] = .init(repeating: 0)
    if key.count > SHA512.blockBytes {
      var k = SHA512()
      k.update(key)
      withUnsafeMutableBytes(of: &pad) { k.finish(into: $0) }
    } else {
      var i = 0
      while i < key.count {
        pad[i] = key[i]
        i += 1
      }
    }
    var i = 0
    while i < 128 {
      pad[i] ^= 0x36
      i += 1
    }
    withUnsafeBytes(of: &pad) { inner.update($0) }
    i = 0
    while i < 128 {
      pad[i] ^= 0x36 ^ 0x5c
      i += 1
    }
    withUnsafeBytes(of: &pad) { outer.update($0) }
  }

  /// MAC of the concatenation of `first` and `second` into `out` (64 bytes).
  public func mac(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) {
    var i = inner
    i.update(first)
    i.update(second)
    var digest: [64 of UInt8] = .init(repeating: 0)
    withUnsafeMutableBytes(of: &digest) { i.finish(into: $0) }
    var o = outer
    withUnsafeBytes(of: &digest) { o.update($0) }
    o.finish(into: out)
  }
}

public enum PBKDF2 {
  /// PBKDF2-HMAC-SHA512 with a 64-byte derived key (one block, as mosquitto's `$7$`).
  public static func sha512(
    password: UnsafeRawBufferPointer, salt: UnsafeRawBufferPointer, iterations: Int,
    into out: UnsafeMutableRawBufferPointer
  ) {
    precondition(iterations >= 1, "PBKDF2 needs at least one iteration")
    precondition(out.count >= 64, "derived key buffer too small")
    let prf = HMACSHA512(key: password)
    var u: [64 of UInt8] = .init(repeating: 0)
    var counter: [4 of UInt8] = [0, 0, 0, 1]
    withUnsafeMutableBytes(of: &u) { ub in
      withUnsafeBytes(of: &counter) { prf.mac(salt, $0, into: ub) }
    }
    var i = 0
    while i < 64 {
      out[i] = u[i]
      i += 1
    }
    var n = 1
    var next: [64 of UInt8] = .init(repeating: 0)
    while n < iterations {
      withUnsafeMutableBytes(of: &next) { nb in
        withUnsafeBytes(of: &u) { prf.mac($0, UnsafeRawBufferPointer(start: nil, count: 0), into: nb) }
      }
      i = 0
      while i < 64 {
        u[i] = next[i]
        out[i] ^= next[i]
        i += 1
      }
      n += 1
    }
  }
}

/// Equality of two byte strings in time that depends only on their lengths.
public func constantTimeEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
  var diff: UInt8 = a.count == b.count ? 0 : 1
  let n = min(a.count, b.count)
  var i = 0
  while i < n {
    diff |= a[i] ^ b[i]
    i += 1
  }
  return diff == 0
}
