import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Resolves kernel modules and their dependencies in an unpacked kernel package that was never `depmod`-ed:
/// builtins come from `modules.builtin`, dependencies from each module's `.modinfo` `depends=` field.
public struct KernelModuleSet: Sendable {
    public struct Module: Sendable, Equatable {
        public var name: String
        /// Path relative to the modules directory, e.g. `kernel/drivers/block/virtio_blk.ko`.
        public var relativePath: String
    }

    public let modulesDir: String
    private var byName: [String: String] = [:]  // normalized name → relative path
    private var builtin: Set<String> = []

    public init(modulesDir: String) throws(MachineError) {
        self.modulesDir = modulesDir
        if let text = try? String(contentsOfFile: modulesDir + "/modules.builtin", encoding: .utf8) {
            for line in text.split(separator: "\n") { builtin.insert(Self.moduleName(of: String(line))) }
        }
        guard let walker = FileManager.default.enumerator(atPath: modulesDir) else {
            throw .artifacts("cannot list kernel modules in \(modulesDir)")
        }
        while let rel = walker.nextObject() as? String {
            if rel.hasSuffix(".ko") || rel.hasSuffix(".ko.xz") || rel.hasSuffix(".ko.zst") || rel.hasSuffix(".ko.gz") {
                byName[Self.moduleName(of: rel)] = rel
            }
        }
    }

    /// `kernel/fs/ext4/ext4.ko.xz` → `ext4`; dashes and underscores are the same to the kernel.
    static func moduleName(of path: String) -> String {
        var base = path.split(separator: "/").last.map(String.init) ?? path
        for suffix in [".xz", ".zst", ".gz"] where base.hasSuffix(suffix) { base.removeLast(suffix.count) }
        if base.hasSuffix(".ko") { base.removeLast(3) }
        return base.replacingOccurrences(of: "-", with: "_")
    }

    public func isBuiltin(_ name: String) -> Bool { builtin.contains(name.replacingOccurrences(of: "-", with: "_")) }

    /// The modules to load, dependencies first, skipping builtins. Throws if a needed module is neither.
    public func loadOrder(for names: [String]) throws(MachineError) -> [Module] {
        var order: [Module] = []
        var done: Set<String> = []
        var visiting: Set<String> = []
        func visit(_ raw: String) throws(MachineError) {
            let name = raw.replacingOccurrences(of: "-", with: "_")
            if done.contains(name) || builtin.contains(name) { return }
            guard let rel = byName[name] else {
                throw .artifacts("kernel module \(name) is neither built in nor in \(modulesDir)")
            }
            guard !visiting.contains(name) else { return }
            visiting.insert(name)
            for dep in try Self.dependencies(ofModuleAt: modulesDir + "/" + rel) { try visit(dep) }
            visiting.remove(name)
            done.insert(name)
            order.append(Module(name: name, relativePath: rel))
        }
        for n in names { try visit(n) }
        return order
    }

    /// The uncompressed bytes of a module (decompressing `.ko.xz`/`.ko.zst`/`.ko.gz` with the host tool).
    public func contents(of module: Module) throws(MachineError) -> [UInt8] {
        let path = modulesDir + "/" + module.relativePath
        let tool: [String]? =
            path.hasSuffix(".xz")
            ? ["xz", "-dc", path]
            : path.hasSuffix(".zst")
                ? ["zstd", "-dc", path]
                : path.hasSuffix(".gz") ? ["gzip", "-dc", path] : nil
        if let tool { return try HostTool.output(tool) }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .artifacts("cannot read kernel module \(path)")
        }
        return [UInt8](data)
    }

    /// Reads `depends=a,b` out of the module's `.modinfo` strings (NUL-separated; no ELF parsing needed).
    static func dependencies(ofModuleAt path: String) throws(MachineError) -> [String] {
        let bytes: [UInt8]
        if path.hasSuffix(".ko") {
            guard let d = FileManager.default.contents(atPath: path) else { throw .artifacts("cannot read \(path)") }
            bytes = [UInt8](d)
        } else {
            let tool = path.hasSuffix(".xz") ? "xz" : path.hasSuffix(".zst") ? "zstd" : "gzip"
            bytes = try HostTool.output([tool, "-dc", path])
        }
        return parseDepends(bytes)
    }

    static func parseDepends(_ bytes: [UInt8]) -> [String] {
        let key = Array("depends=".utf8)
        var i = 0
        while i + key.count <= bytes.count {
            if (i == 0 || bytes[i - 1] == 0) && bytes[i] == key[0] && Array(bytes[i..<i + key.count]) == key {
                var j = i + key.count
                while j < bytes.count && bytes[j] != 0 { j += 1 }
                let value = String(decoding: bytes[(i + key.count)..<j], as: UTF8.self)
                return value.split(separator: ",").map(String.init).filter { !$0.isEmpty }
            }
            i += 1
        }
        return []
    }
}

/// Host tools used only while building artifacts (never to launch VMs): gzip, mke2fs, debugfs, xz.
enum HostTool {
    static func run(_ argv: [String], stdinPath: String? = nil, stdoutPath: String? = nil) throws(MachineError) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: find(argv[0]))
        p.arguments = Array(argv.dropFirst())
        let errPipe = Pipe()
        p.standardError = errPipe
        do {
            if let stdinPath { p.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: stdinPath)) }
            if let stdoutPath {
                _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
                p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
            } else {
                p.standardOutput = FileHandle.nullDevice
            }
            try p.run()
        } catch {
            throw .artifacts("\(argv[0]): \(error)")
        }
        let err = errPipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        if p.terminationStatus != 0 {
            throw .artifacts(
                "\(argv.joined(separator: " ")) exited \(p.terminationStatus): \(String(decoding: err, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))"
            )
        }
    }

    static func output(_ argv: [String]) throws(MachineError) -> [UInt8] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: find(argv[0]))
        p.arguments = Array(argv.dropFirst())
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { throw .artifacts("\(argv[0]): \(error)") }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw .artifacts("\(argv.joined(separator: " ")) exited \(p.terminationStatus)")
        }
        return [UInt8](data)
    }

    static func find(_ name: String) -> String {
        if name.hasPrefix("/") { return name }
        for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/bin"]
        where access(dir + "/" + name, X_OK) == 0 {
            return dir + "/" + name
        }
        return "/usr/bin/" + name
    }
}
