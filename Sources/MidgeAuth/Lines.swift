// The lines of an auth file (password_file, acl_file), shared by both parsers: each line that
// is neither blank nor a comment ('#' as its first non-blank byte), with its 1-based number
// and leading and trailing blanks (space, tab, CR) trimmed. Offsets only: nothing is copied.

struct AuthLine {
  /// 1-based line number in the file.
  var number: Int
  /// The trimmed line: text[start..<end].
  var start: Int
  var end: Int
}

struct AuthLines {
  let text: UnsafeRawBufferPointer
  var at = 0
  var number = 0

  init(_ text: UnsafeRawBufferPointer) { self.text = text }

  static func isBlank(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0D }

  mutating func next() -> AuthLine? {
    while at < text.count {
      var end = at
      while end < text.count && text[end] != 0x0A { end += 1 }
      number += 1
      var stop = end
      while stop > at && AuthLines.isBlank(text[stop - 1]) { stop -= 1 }
      var first = at
      while first < stop && AuthLines.isBlank(text[first]) { first += 1 }
      at = end + 1
      if first < stop && text[first] != 0x23 { return AuthLine(number: number, start: first, end: stop) }
    }
    return nil
  }
}
