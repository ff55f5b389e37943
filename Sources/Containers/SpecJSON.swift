import CSpecJSON

#if canImport(Glibc)
    import Glibc
#endif

/// config.json and state.json read by hand from a tape yajl's event parser builds (CSpecJSON). JSONDecoder's
/// generic decoding spent 10.7 M of a `boxbench-runtime run`'s ~25 M instructions, most of them Swift conformance
/// lookups; simdjson, which replaced it, brought the C++ runtime into every start (results/runtime-breakdown.txt).
enum SpecJSON {
    /// Parses `bytes` (the text of `file`) and hands `body` its root; values are valid only inside `body`.
    static func withRoot<R>(_ bytes: [UInt8], file: String, _ body: (SpecNode) throws(SpecError) -> R)
        throws(SpecError) -> R
    {
        // The parser's message, if any, in a stack buffer: no allocation on a container's start.
        let (parsed, detail) = withUnsafeTemporaryAllocation(of: CChar.self, capacity: 256) { message in
            let document = bytes.withUnsafeBufferPointer {
                sjt_parse($0.baseAddress, $0.count, message.baseAddress, message.count)
            }
            return (document, document == nil ? String(cString: message.baseAddress!) : "")
        }
        guard let document = parsed else {
            throw SpecError(file: file, field: "", reason: "not valid JSON (\(detail))")
        }
        defer { sjt_destroy(document) }
        return try body(SpecNode(raw: sjt_root(document), parent: "", step: .root, file: file))
    }
}

/// One JSON value and where it sits in the file (`process.user.uid`, `mounts[2]`), for errors naming the field.
/// The path is put together only when asked for (an error, or a container's children): building one per value
/// cost more than the decoding.
struct SpecNode {
    let raw: sjt_value
    let file: String
    private let parent: String
    private let step: Step

    enum Step {
        case root
        case key(String)
        case index(Int)
    }

    init(raw: sjt_value, parent: String, step: Step, file: String) {
        self.raw = raw
        self.parent = parent
        self.step = step
        self.file = file
    }

    var path: String {
        switch step {
        case .root: parent
        case .key(let key): parent.isEmpty ? key : parent + "." + key
        case .index(let i): parent + "[" + String(i) + "]"
        }
    }

    var type: sjt_type { sjt_type_of(raw) }
    var isNull: Bool { type == SJT_NULL }

    func error(_ reason: String) -> SpecError { SpecError(file: file, field: path, reason: reason) }

    private func mismatch(_ expected: String) -> SpecError {
        let found: String
        switch type {
        case SJT_ARRAY: found = "an array"
        case SJT_OBJECT: found = "an object"
        case SJT_STRING: found = "a string"
        case SJT_BOOL: found = "a boolean"
        case SJT_NULL: found = "null"
        case SJT_DOUBLE: found = "\(sjt_get_double(raw))"
        case SJT_UINT64: found = "\(sjt_get_uint64(raw))"
        default: found = "\(sjt_get_int64(raw))"
        }
        return error("expected \(expected), found \(found)")
    }

    func string() throws(SpecError) -> String {
        guard type == SJT_STRING else { throw mismatch("a string") }
        var length = 0
        let bytes = sjt_get_string(raw, &length)!
        return String(
            decoding: UnsafeRawBufferPointer(start: bytes, count: length).bindMemory(to: UInt8.self), as: UTF8.self)
    }

    func bool() throws(SpecError) -> Bool {
        guard type == SJT_BOOL else { throw mismatch("a boolean") }
        return sjt_get_bool(raw)
    }

    /// An integer that fits `T` exactly (as JSONDecoder requires): no fraction, no overflow.
    func integer<T: FixedWidthInteger>(_: T.Type) throws(SpecError) -> T {
        let value: T?
        switch type {
        case SJT_INT64: value = T(exactly: sjt_get_int64(raw))
        case SJT_UINT64: value = T(exactly: sjt_get_uint64(raw))
        case SJT_DOUBLE:
            let d = sjt_get_double(raw)
            value = d.isFinite && d.rounded() == d ? T(exactly: d) : nil
        default: value = nil
        }
        // The type's name only on the way out: it is a reflection call.
        guard let value else { throw mismatch("\(T.self) (an integer \(T.min)…\(T.max))") }
        return value
    }

    func array() throws(SpecError) -> [SpecNode] {
        guard type == SJT_ARRAY else { throw mismatch("an array") }
        let total = sjt_count(raw)
        let values = [sjt_value](unsafeUninitializedCapacity: total) { buffer, initialized in
            initialized = sjt_array_elements(raw, buffer.baseAddress, total)
        }
        let here = path
        return values.enumerated().map { SpecNode(raw: $1, parent: here, step: .index($0), file: file) }
    }

    func strings() throws(SpecError) -> [String] {
        try array().map { e throws(SpecError) in try e.string() }
    }

    func integers<T: FixedWidthInteger>(_: T.Type) throws(SpecError) -> [T] {
        try array().map { e throws(SpecError) in try e.integer(T.self) }
    }

    /// The object's fields; with `known`, a key outside it is refused by name (a silently ignored field could
    /// weaken isolation). Of a repeated key the last one counts, as with JSONDecoder.
    func object(known: [String]? = nil) throws(SpecError) -> SpecObject {
        guard type == SJT_OBJECT else { throw mismatch("an object") }
        let total = sjt_count(raw)
        let raws = [sjt_field](unsafeUninitializedCapacity: total) { buffer, initialized in
            initialized = sjt_object_fields(raw, buffer.baseAddress, total)
        }
        let here = path
        var fields: [(key: String, node: SpecNode)] = []
        fields.reserveCapacity(raws.count)
        for f in raws {
            let key = String(
                decoding: UnsafeRawBufferPointer(start: f.key, count: f.key_length).bindMemory(to: UInt8.self),
                as: UTF8.self)
            let child = SpecNode(raw: f.value, parent: here, step: .key(key), file: file)
            if let known, !known.contains(key) {
                throw child.error("unsupported field (boxbench does not implement it)")
            }
            fields.append((key, child))
        }
        return SpecObject(node: self, fields: fields)
    }

    /// An object of strings (annotations, sysctl).
    func stringMap() throws(SpecError) -> [String: String] {
        var out: [String: String] = [:]
        for (key, node) in try object().fields { out[key] = try node.string() }
        return out
    }
}

/// An object's fields by key; absent and null are the same (an optional field left out).
struct SpecObject {
    let node: SpecNode
    let fields: [(key: String, node: SpecNode)]

    subscript(_ key: String) -> SpecNode? {
        guard let field = fields.last(where: { $0.key == key }), !field.node.isNull else { return nil }
        return field.node
    }

    func required(_ key: String) throws(SpecError) -> SpecNode {
        guard let field = fields.last(where: { $0.key == key }) else {
            throw SpecNode(raw: node.raw, parent: node.path, step: .key(key), file: node.file).error(
                "required field missing")
        }
        return field.node
    }

    /// The object at `key` (nil when absent or null), its keys checked against `SpecValidator.known(known)`, read
    /// by `make`.
    func object<T>(_ key: String, known: String, _ make: (SpecObject) throws(SpecError) -> T) throws(SpecError) -> T? {
        guard let node = self[key] else { return nil }
        return try make(node.object(known: SpecValidator.known(known)))
    }

    /// The array of objects at `key` (nil when absent or null), each checked and read as `object` does.
    func objects<T>(_ key: String, known: String, _ make: (SpecObject) throws(SpecError) -> T) throws(SpecError)
        -> [T]?
    {
        guard let node = self[key] else { return nil }
        let allowed = SpecValidator.known(known)
        return try node.array().map { e throws(SpecError) in try make(e.object(known: allowed)) }
    }

    func string(_ key: String) throws(SpecError) -> String? { try self[key]?.string() }
    func bool(_ key: String) throws(SpecError) -> Bool? { try self[key]?.bool() }
    func strings(_ key: String) throws(SpecError) -> [String]? { try self[key]?.strings() }
    func integer<T: FixedWidthInteger>(_ key: String, _ type: T.Type) throws(SpecError) -> T? {
        try self[key]?.integer(type)
    }
}

/// JSON text for the files the runtime writes (state.json, the state `state` prints): keys in the order given.
/// Written as bytes: appending to a String cost the seccomp store's key ~1.7 k instructions per syscall name.
struct JSONWriter {
    private(set) var bytes: [UInt8] = []
    private let pretty: Bool
    private var depth = 0
    private var first = [true]

    init(pretty: Bool) { self.pretty = pretty }

    var text: String { String(decoding: bytes, as: UTF8.self) }

    static func quoted(_ s: String) -> String {
        var w = JSONWriter(pretty: false)
        w.appendQuoted(s)
        return w.text
    }

    private mutating func appendQuoted(_ s: String) {
        bytes.append(0x22)
        // Most strings need no escape: copied whole (a seccomp profile has hundreds).
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) {
            bytes.append(contentsOf: s.utf8)
        } else {
            for byte in s.utf8 {
                switch byte {
                case 0x22: bytes += [0x5C, 0x22]
                case 0x5C: bytes += [0x5C, 0x5C]
                case 0x0A: bytes += [0x5C, UInt8(ascii: "n")]
                case 0x0D: bytes += [0x5C, UInt8(ascii: "r")]
                case 0x09: bytes += [0x5C, UInt8(ascii: "t")]
                case 0..<0x20:
                    let hex = Array("0123456789abcdef".utf8)
                    bytes += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
                default: bytes.append(byte)
                }
            }
        }
        bytes.append(0x22)
    }

    private mutating func separate() {
        if !first[depth] { bytes.append(UInt8(ascii: ",")) }
        first[depth] = false
        newline()
    }

    private mutating func newline() {
        guard pretty else { return }
        bytes.append(0x0A)
        bytes.append(contentsOf: repeatElement(0x20, count: 2 * depth))
    }

    private mutating func key(_ key: String?) {
        guard let key else { return }
        separate()
        appendQuoted(key)
        bytes.append(contentsOf: pretty ? Array(" : ".utf8) : [UInt8(ascii: ":")])
    }

    mutating func open(_ key: String? = nil, array: Bool = false) {
        if key == nil && depth > 0 { separate() }
        self.key(key)
        bytes.append(UInt8(ascii: array ? "[" : "{"))
        depth += 1
        first.append(true)
    }

    mutating func close(array: Bool = false) {
        let empty = first.removeLast()
        depth -= 1
        if !empty { newline() }
        bytes.append(UInt8(ascii: array ? "]" : "}"))
    }

    /// A raw JSON value (a number, true/false, or text already quoted).
    mutating func value(_ key: String? = nil, raw: String) {
        if key == nil { separate() } else { self.key(key) }
        bytes.append(contentsOf: raw.utf8)
    }

    mutating func string(_ key: String? = nil, _ s: String) {
        if key == nil { separate() } else { self.key(key) }
        appendQuoted(s)
    }

    mutating func strings(_ key: String, _ list: [String]) {
        open(key, array: true)
        for s in list { string(nil, s) }
        close(array: true)
    }

    mutating func stringMap(_ key: String, _ map: [String: String]) {
        open(key)
        for k in map.keys.sorted() { string(k, map[k]!) }
        close()
    }
}
