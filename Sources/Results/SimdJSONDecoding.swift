import CSimdJSON
import Foundation

/// Decodes `Decodable` values from JSON parsed by simdjson (through the C view in `CSimdJSON`).
///
/// Foundation's `JSONDecoder` spends ~0.5 µs per JSON value in generic dispatch: measured on a 100 000-sample
/// results file (72 MB), it takes 2.5 s to load (Benchmarks/report-bench.sh), against the 1 s target for load +
/// render. simdjson parses the file in a fraction of that and this decoder walks its DOM with the types' own
/// `Codable` conformances — the one schema — except for `Sample` (100 000 of them), which generic decoding
/// still made 0.8 s: its `SimdJSONDecodable` reads the same keys by hand, and ResultsTests checks it against
/// `Codable` on random samples. It reports *that* something is wrong,
/// not where: callers re-decode with `JSONDecoder` on failure for its precise message (`ResultsStore.read`),
/// so behaviour on bad input stays Foundation's.
///
/// Accepts what `JSONDecoder` does with `nonConformingFloatDecodingStrategy` set to "inf", "-inf", "nan".
enum SimdJSON {
    /// What went wrong and where (keys and indices from the root, added only on the way out of a failure).
    struct Failure: Error, CustomStringConvertible {
        var path: [String] = []
        let message: String

        init(description: String) { message = description }

        var description: String { path.isEmpty ? message : "\(path.joined(separator: ".")): \(message)" }

        /// Runs `body`, prefixing `component` to the path of a failure it throws.
        static func at<T>(_ component: @autoclosure () -> String, _ body: () throws -> T) throws -> T {
            do {
                return try body()
            } catch var failure as Failure {
                failure.path.insert(component(), at: 0)
                throw failure
            }
        }
    }

    /// Bytes of JSON followed by the zeroed padding simdjson reads past the end of its input.
    final class PaddedBytes {
        let buffer: UnsafeMutableRawBufferPointer
        /// Length of the JSON text, without the padding.
        let count: Int
        /// True when `buffer` is a read-only mapping of the file (unmapped, not deallocated).
        private let mapped: Bool

        /// The file open at `fd` (`count` bytes) mapped read-only, when the zeros the kernel puts after its end
        /// in its last page cover the padding; nil otherwise (the caller reads it instead). Mapping saves the
        /// copy and the page faults of reading tens of MB into fresh memory. Results files are replaced by
        /// rename, never truncated in place, so the mapping stays valid.
        init?(mapping fd: Int32, count: Int) {
            let page = Int(sysconf(Int32(_SC_PAGESIZE)))
            let tail = count % page
            guard count > 0, tail != 0, page - tail >= csj_padding() else { return nil }
            let length = count + (page - tail)
            guard let address = mmap(nil, length, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0),
                address != MAP_FAILED
            else { return nil }
            buffer = UnsafeMutableRawBufferPointer(start: address, count: length)
            self.count = count
            mapped = true
        }

        /// Room for `count` bytes filled by `fill`, which returns how many it wrote (at most `count`).
        init(count: Int, fill: (UnsafeMutableRawBufferPointer) throws -> Int) rethrows {
            let padding = csj_padding()
            mapped = false
            buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count + padding, alignment: 64)
            do {
                self.count = try fill(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count]))
            } catch {
                buffer.deallocate()
                throw error
            }
            buffer.baseAddress!.advanced(by: self.count).initializeMemory(
                as: UInt8.self, repeating: 0, count: count - self.count + padding)
        }

        convenience init(_ data: Data) {
            self.init(count: data.count) { buffer in
                buffer.copyBytes(from: data)
                return data.count
            }
        }

        deinit {
            if mapped {
                munmap(buffer.baseAddress, buffer.count)
            } else {
                buffer.deallocate()
            }
        }
    }

    /// Parses `bytes` and decodes a `T` from its root; `inspect` sees the root first (e.g. to check a schema
    /// field) and may throw to stop before decoding.
    static func decode<T: Decodable>(
        _ type: T.Type, from bytes: PaddedBytes, inspect: (JSONObjectView) throws -> Void = { _ in }
    ) throws -> T {
        try withRoot(of: bytes) { root in
            try inspect(try JSONObjectView(root.raw))
            return try root.decode(T.self)
        }
    }

    /// Parses `bytes` and hands `body` the root value; values derived from it are valid only inside `body`.
    static func withRoot<R>(of bytes: PaddedBytes, _ body: (JSONValue) throws -> R) throws -> R {
        guard let parser = csj_parser_create() else { throw Failure(description: "out of memory") }
        defer { csj_parser_destroy(parser) }
        var root = csj_value()
        var message: UnsafePointer<CChar>? = nil
        let parsed = csj_parse(
            parser, bytes.buffer.baseAddress!.assumingMemoryBound(to: UInt8.self), bytes.count, &root, &message)
        guard parsed else { throw Failure(description: message.map { String(cString: $0) } ?? "parse error") }
        let strings = StringTable()
        return try withExtendedLifetime((bytes, strings)) {
            try body(JSONValue(raw: root, strings: strings))
        }
    }
}

/// Read access to one object's fields (for checks before a full decode).
struct JSONObjectView {
    let fields: [csj_field]

    init(_ value: csj_value) throws {
        guard csj_type_of(value) == CSJ_OBJECT else { throw SimdJSON.Failure(description: "expected an object") }
        fields = objectFields(value)
    }

    /// The string value of `key`; nil if absent; throws if present and not a string.
    func string(_ key: String) throws -> String? {
        guard let value = field(fields, named: key) else { return nil }
        return try JSONScalars.string(value)
    }
}

func objectFields(_ object: csj_value) -> [csj_field] {
    let guess = 16
    var total = 0
    var fields = [csj_field](unsafeUninitializedCapacity: guess) { buffer, initialized in
        total = csj_object_fields(object, buffer.baseAddress, guess)
        initialized = Swift.min(total, guess)
    }
    if total > guess {
        fields = [csj_field](unsafeUninitializedCapacity: total) { buffer, initialized in
            initialized = csj_object_fields(object, buffer.baseAddress, total)
        }
    }
    return fields
}

func arrayElements(_ array: csj_value) -> [csj_value] {
    let total = csj_array_elements(array, nil, 0)
    return [csj_value](unsafeUninitializedCapacity: total) { buffer, initialized in
        initialized = csj_array_elements(array, buffer.baseAddress, total)
    }
}

private func field(_ fields: [csj_field], named name: String) -> csj_value? {
    var name = name
    return name.withUTF8 { key -> csj_value? in
        for candidate in fields where candidate.key_length == key.count {
            if key.count == 0 || memcmp(candidate.key, key.baseAddress!, key.count) == 0 { return candidate.value }
        }
        return nil
    }
}

/// Scalar conversions with `JSONDecoder`'s rules (integers must fit exactly; floats accept "inf"/"nan").
enum JSONScalars {
    static func mismatch(_ expected: String, _ value: csj_value) -> SimdJSON.Failure {
        SimdJSON.Failure(description: "expected \(expected), found JSON type \(csj_type_of(value).rawValue)")
    }

    static func string(_ value: csj_value) throws -> String {
        guard csj_type_of(value) == CSJ_STRING else { throw mismatch("a string", value) }
        var length = 0
        let bytes = csj_get_string(value, &length)!
        return String(
            decoding: UnsafeRawBufferPointer(start: bytes, count: length).bindMemory(to: UInt8.self), as: UTF8.self)
    }

    static func bool(_ value: csj_value) throws -> Bool {
        guard csj_type_of(value) == CSJ_BOOL else { throw mismatch("a boolean", value) }
        return csj_get_bool(value)
    }

    static func double(_ value: csj_value) throws -> Double {
        switch csj_type_of(value) {
        case CSJ_DOUBLE, CSJ_INT64, CSJ_UINT64: return csj_get_double(value)
        case CSJ_STRING:
            switch try string(value) {
            case "inf": return .infinity
            case "-inf": return -.infinity
            case "nan": return .nan
            default: throw mismatch("a number", value)
            }
        default: throw mismatch("a number", value)
        }
    }

    static func integer<T: FixedWidthInteger>(_ value: csj_value) throws -> T {
        let result: T?
        switch csj_type_of(value) {
        case CSJ_INT64: result = T(exactly: csj_get_int64(value))
        case CSJ_UINT64: result = T(exactly: csj_get_uint64(value))
        case CSJ_DOUBLE: result = T(exactly: csj_get_double(value))
        default: throw mismatch("an integer", value)
        }
        guard let result else { throw mismatch("an integer that fits \(T.self)", value) }
        return result
    }

    static func isNull(_ value: csj_value) -> Bool { csj_type_of(value) == CSJ_NULL }
}

private struct ValueDecoder: Decoder {
    let value: csj_value
    let strings: StringTable
    // Paths are not tracked: on failure the caller re-decodes with JSONDecoder, which names the field.
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard csj_type_of(value) == CSJ_OBJECT else { throw JSONScalars.mismatch("an object", value) }
        return KeyedDecodingContainer(KeyedContainer<Key>(fields: objectFields(value), strings: strings))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard csj_type_of(value) == CSJ_ARRAY else { throw JSONScalars.mismatch("an array", value) }
        return UnkeyedContainer(elements: arrayElements(value), strings: strings)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleValueContainer(value: value, strings: strings)
    }

    /// Scalars directly; anything else through its own `init(from:)`.
    func decodeValue<T: Decodable>(_ type: T.Type) throws -> T {
        if T.self == Double.self { return try JSONScalars.double(value) as! T }
        if T.self == String.self { return try JSONScalars.string(value) as! T }
        if T.self == Int.self { return try JSONScalars.integer(value) as Int as! T }
        if let fast = T.self as? any SimdJSONDecodable.Type {
            return try fast.init(json: JSONValue(raw: value, strings: strings)) as! T
        }
        return try T(from: self)
    }
}

private struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let fields: [csj_field]
    let strings: StringTable
    var codingPath: [any CodingKey] { [] }

    var allKeys: [Key] {
        fields.compactMap { candidate in
            Key(
                stringValue: String(
                    decoding: UnsafeRawBufferPointer(start: candidate.key, count: candidate.key_length)
                        .bindMemory(to: UInt8.self), as: UTF8.self))
        }
    }

    func contains(_ key: Key) -> Bool { field(fields, named: key.stringValue) != nil }

    private func value(_ key: Key) throws -> csj_value {
        guard let value = field(fields, named: key.stringValue) else {
            throw SimdJSON.Failure(description: "missing field \(key.stringValue)")
        }
        return value
    }

    func decodeNil(forKey key: Key) throws -> Bool { JSONScalars.isNull(try value(key)) }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
        try SimdJSON.Failure.at(key.stringValue) { try JSONScalars.bool(value(key)) }
    }
    func decode(_ type: String.Type, forKey key: Key) throws -> String {
        try SimdJSON.Failure.at(key.stringValue) { try JSONScalars.string(value(key)) }
    }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double {
        try SimdJSON.Failure.at(key.stringValue) { try JSONScalars.double(value(key)) }
    }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float {
        try SimdJSON.Failure.at(key.stringValue) { Float(try JSONScalars.double(value(key))) }
    }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int {
        try SimdJSON.Failure.at(key.stringValue) { try JSONScalars.integer(value(key)) }
    }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 {
        try SimdJSON.Failure.at(key.stringValue) { try JSONScalars.integer(value(key)) }
    }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 {
        try SimdJSON.Failure.at(key.stringValue) { try JSONScalars.integer(value(key)) }
    }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 {
        try SimdJSON.Failure.at(key.stringValue) { try JSONScalars.integer(value(key)) }
    }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 {
        try SimdJSON.Failure.at(key.stringValue) { try JSONScalars.integer(value(key)) }
    }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt {
        try SimdJSON.Failure.at(key.stringValue) { try JSONScalars.integer(value(key)) }
    }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 {
        try SimdJSON.Failure.at(key.stringValue) { try JSONScalars.integer(value(key)) }
    }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 {
        try SimdJSON.Failure.at(key.stringValue) { try JSONScalars.integer(value(key)) }
    }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 {
        try SimdJSON.Failure.at(key.stringValue) { try JSONScalars.integer(value(key)) }
    }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 {
        try SimdJSON.Failure.at(key.stringValue) { try JSONScalars.integer(value(key)) }
    }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try SimdJSON.Failure.at(key.stringValue) {
            try ValueDecoder(value: value(key), strings: strings).decodeValue(T.self)
        }
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let value = field(fields, named: key.stringValue), !JSONScalars.isNull(value) else { return nil }
        return try SimdJSON.Failure.at(key.stringValue) {
            try ValueDecoder(value: value, strings: strings).decodeValue(T.self)
        }
    }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type, forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        try ValueDecoder(value: value(key), strings: strings).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try ValueDecoder(value: value(key), strings: strings).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        throw SimdJSON.Failure(description: "superDecoder is not supported")
    }

    func superDecoder(forKey key: Key) throws -> any Decoder { ValueDecoder(value: try value(key), strings: strings) }
}

private struct UnkeyedContainer: UnkeyedDecodingContainer {
    let elements: [csj_value]
    let strings: StringTable
    var currentIndex = 0
    var codingPath: [any CodingKey] { [] }
    var count: Int? { elements.count }
    var isAtEnd: Bool { currentIndex >= elements.count }

    init(elements: [csj_value], strings: StringTable) {
        self.elements = elements
        self.strings = strings
    }

    private mutating func next() throws -> csj_value {
        guard currentIndex < elements.count else { throw SimdJSON.Failure(description: "array ended") }
        defer { currentIndex += 1 }
        return elements[currentIndex]
    }

    mutating func decodeNil() throws -> Bool {
        guard currentIndex < elements.count else { throw SimdJSON.Failure(description: "array ended") }
        if JSONScalars.isNull(elements[currentIndex]) {
            currentIndex += 1
            return true
        }
        return false
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { try JSONScalars.bool(next()) }
    mutating func decode(_ type: String.Type) throws -> String { try JSONScalars.string(next()) }
    mutating func decode(_ type: Double.Type) throws -> Double { try JSONScalars.double(next()) }
    mutating func decode(_ type: Float.Type) throws -> Float { Float(try JSONScalars.double(next())) }
    mutating func decode(_ type: Int.Type) throws -> Int { try JSONScalars.integer(next()) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try JSONScalars.integer(next()) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try JSONScalars.integer(next()) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try JSONScalars.integer(next()) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try JSONScalars.integer(next()) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try JSONScalars.integer(next()) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try JSONScalars.integer(next()) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try JSONScalars.integer(next()) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try JSONScalars.integer(next()) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try JSONScalars.integer(next()) }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let index = currentIndex
        return try SimdJSON.Failure.at(String(index)) {
            try ValueDecoder(value: next(), strings: strings).decodeValue(T.self)
        }
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type
    ) throws -> KeyedDecodingContainer<NestedKey> {
        try ValueDecoder(value: next(), strings: strings).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try ValueDecoder(value: next(), strings: strings).unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder { ValueDecoder(value: try next(), strings: strings) }
}

private struct SingleValueContainer: SingleValueDecodingContainer {
    let value: csj_value
    let strings: StringTable
    var codingPath: [any CodingKey] { [] }

    func decodeNil() -> Bool { JSONScalars.isNull(value) }
    func decode(_ type: Bool.Type) throws -> Bool { try JSONScalars.bool(value) }
    func decode(_ type: String.Type) throws -> String { try JSONScalars.string(value) }
    func decode(_ type: Double.Type) throws -> Double { try JSONScalars.double(value) }
    func decode(_ type: Float.Type) throws -> Float { Float(try JSONScalars.double(value)) }
    func decode(_ type: Int.Type) throws -> Int { try JSONScalars.integer(value) }
    func decode(_ type: Int8.Type) throws -> Int8 { try JSONScalars.integer(value) }
    func decode(_ type: Int16.Type) throws -> Int16 { try JSONScalars.integer(value) }
    func decode(_ type: Int32.Type) throws -> Int32 { try JSONScalars.integer(value) }
    func decode(_ type: Int64.Type) throws -> Int64 { try JSONScalars.integer(value) }
    func decode(_ type: UInt.Type) throws -> UInt { try JSONScalars.integer(value) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try JSONScalars.integer(value) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try JSONScalars.integer(value) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try JSONScalars.integer(value) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try JSONScalars.integer(value) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try ValueDecoder(value: value, strings: strings).decodeValue(T.self)
    }
}

/// Strings that repeat across samples (arm keys, provenance fields, metric names) are made once and shared:
/// one slot per hash of the bytes, checked byte for byte; a collision just makes a fresh string.
final class StringTable {
    private var slots: [String?] = Array(repeating: nil, count: 1024)

    func string(_ bytes: UnsafeRawBufferPointer) -> String {
        // FNV-1a over the bytes.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let slot = Int(truncatingIfNeeded: hash) & (slots.count - 1)
        if var candidate = slots[slot], candidate.utf8.count == bytes.count {
            let equal = candidate.withUTF8 {
                $0.count == 0 || memcmp($0.baseAddress!, bytes.baseAddress!, $0.count) == 0
            }
            if equal { return candidate }
        }
        let made = String(decoding: bytes.bindMemory(to: UInt8.self), as: UTF8.self)
        if slots[slot] == nil { slots[slot] = made }
        return made
    }
}

/// A type decoded by hand from simdjson's DOM instead of through `Decodable`: the hot types of a results
/// file (100 000 samples), where the generic `Codable` machinery costs more than the parse.
protocol SimdJSONDecodable {
    init(json: JSONValue) throws
}

/// One value of the DOM with typed accessors for hand-written decoders.
struct JSONValue {
    let raw: csj_value
    /// Owned by the decode call that made this value (SimdJSON.decode), which outlives it.
    unowned(unsafe) let strings: StringTable

    var isNull: Bool { JSONScalars.isNull(raw) }
    func string() throws -> String { try JSONScalars.string(raw) }
    /// A string expected to repeat across the document (shared storage).
    func sharedString() throws -> String {
        guard csj_type_of(raw) == CSJ_STRING else { throw JSONScalars.mismatch("a string", raw) }
        var length = 0
        let bytes = csj_get_string(raw, &length)!
        return strings.string(UnsafeRawBufferPointer(start: bytes, count: length))
    }
    func double() throws -> Double { try JSONScalars.double(raw) }
    func integer<T: FixedWidthInteger>(_ type: T.Type = T.self) throws -> T { try JSONScalars.integer(raw) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try ValueDecoder(value: raw, strings: strings).decodeValue(T.self)
    }

    func object() throws -> JSONObject {
        guard csj_type_of(raw) == CSJ_OBJECT else { throw JSONScalars.mismatch("an object", raw) }
        return JSONObject(fields: objectFields(raw), strings: strings)
    }

    func array() throws -> [JSONValue] {
        guard csj_type_of(raw) == CSJ_ARRAY else { throw JSONScalars.mismatch("an array", raw) }
        return arrayElements(raw).map { JSONValue(raw: $0, strings: strings) }
    }
}

struct JSONObject {
    let fields: [csj_field]
    unowned(unsafe) let strings: StringTable

    /// The value of `key`, nil if absent.
    func optional(_ key: StaticString) -> JSONValue? {
        let count = key.utf8CodeUnitCount
        for candidate in fields where candidate.key_length == count {
            if memcmp(candidate.key, key.utf8Start, count) == 0 {
                return JSONValue(raw: candidate.value, strings: strings)
            }
        }
        return nil
    }

    /// `convert` of the value of `key`; nil if absent or null.
    func optional<T>(_ key: StaticString, _ convert: (JSONValue) throws -> T) throws -> T? {
        guard let value = optional(key), !value.isNull else { return nil }
        return try SimdJSON.Failure.at("\(key)") { try convert(value) }
    }

    /// `convert` of the value of `key`, which must be present.
    func required<T>(_ key: StaticString, _ convert: (JSONValue) throws -> T) throws -> T {
        guard let value = optional(key) else { throw SimdJSON.Failure(description: "missing field \(key)") }
        return try SimdJSON.Failure.at("\(key)") { try convert(value) }
    }

    /// Every field in document order, keys shared through the string table.
    func forEach(_ body: (String, JSONValue) throws -> Void) rethrows {
        for field in fields {
            let key = strings.string(UnsafeRawBufferPointer(start: field.key, count: field.key_length))
            try body(key, JSONValue(raw: field.value, strings: strings))
        }
    }
}
