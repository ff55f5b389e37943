import Foundation
import NIOCore
import Synchronization

/// Counts bytes across tasks.
final class ByteCounter: Sendable {
    private let value = Mutex<Int64>(0)
    func add(_ n: Int) { value.withLock { $0 += Int64(n) } }
    var total: Int64 { value.withLock { $0 } }
}

/// A file read in chunks as ByteBuffers; each iteration opens the file anew, so a request body built
/// from it can be sent again (after a 401). Every chunk handed out is counted.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let path: String
    let chunkSize: Int
    let counter: ByteCounter

    struct AsyncIterator: AsyncIteratorProtocol {
        let path: String
        let chunkSize: Int
        let counter: ByteCounter
        var handle: FileHandle?
        var finished = false

        mutating func next() async throws -> ByteBuffer? {
            if finished { return nil }
            if handle == nil { handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path)) }
            guard let handle else { return nil }
            let data = try handle.read(upToCount: chunkSize) ?? Data()
            if data.isEmpty {
                finished = true
                try? handle.close()
                self.handle = nil
                return nil
            }
            counter.add(data.count)
            return ByteBuffer(bytes: data)
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(path: path, chunkSize: chunkSize, counter: counter)
    }
}
