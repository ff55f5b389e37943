import CShim

/// How cgroups are mounted on this host.
public enum CgroupMode: String, Sendable, Codable {
    /// Only v1 hierarchies.
    case v1
    /// Only the unified v2 hierarchy.
    case v2
    /// v1 hierarchies for the controllers plus a v2 mount (often with few or no controllers).
    case hybrid
    case none
}

public struct CgroupHierarchy: Sendable, Equatable, Codable {
    public var mountPoint: String
    public var version: Int
    public var controllers: [String]
}

/// The mounted cgroup hierarchies and which controllers each one can use.
public struct CgroupLayout: Sendable, Equatable, Codable {
    public var mode: CgroupMode
    public var hierarchies: [CgroupHierarchy]

    /// v1 mount point holding `controller` (e.g. "memory", "cpuacct").
    public func v1MountPoint(for controller: String) -> String? {
        hierarchies.first { $0.version == 1 && $0.controllers.contains(controller) }?.mountPoint
    }

    public var unifiedMountPoint: String? { hierarchies.first { $0.version == 2 }?.mountPoint }

    /// Controllers usable through v2 (empty in this host's hybrid layout, where v2 has only hugetlb).
    public var v2Controllers: [String] { hierarchies.first { $0.version == 2 }?.controllers ?? [] }

    static let cgroup2Magic: Int = 0x6367_7270
    static let tmpfsMagic: Int = 0x0102_1994

    /// Classifies the statfs magic of `/sys/fs/cgroup` and of `/sys/fs/cgroup/unified` (nil if absent).
    public static func mode(rootMagic: Int?, unifiedMagic: Int?, hasV1Mounts: Bool) -> CgroupMode {
        if rootMagic == cgroup2Magic { return .v2 }
        if unifiedMagic == cgroup2Magic { return hasV1Mounts ? .hybrid : .v2 }
        return hasV1Mounts ? .v1 : .none
    }

    /// Mount points of the named v1 hierarchies (`name=systemd`): no controller, so not in `hierarchies`, but a
    /// peer runtime makes its groups there too, and what is made there must be found and removed.
    public static func namedHierarchyMountPoints(mountInfo: String? = nil) -> [String] {
        let text = mountInfo ?? ((try? readTextFile("/proc/self/mountinfo")) ?? "")
        return text.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let dash = fields.firstIndex(of: "-"), dash + 3 < fields.count, fields.count > 4,
                fields[dash + 1] == "cgroup"
            else { return nil }
            let options = fields[dash + 3].split(separator: ",")
            let named = options.contains { $0.hasPrefix("name=") }
            let controllers = options.filter {
                !["rw", "ro", "relatime", "noexec", "nosuid", "nodev", "clone_children", "xattr"].contains(String($0))
                    && !$0.hasPrefix("name=") && !$0.hasPrefix("release_agent=")
            }
            return named && controllers.isEmpty ? unescapeMountField(String(fields[4])) : nil
        }
    }

    /// Parses `/proc/self/mountinfo`; `readControllers` returns a v2 mount's `cgroup.controllers` text.
    public static func parse(
        mountInfo: String, rootMagic: Int?, unifiedMagic: Int?, readControllers: (String) -> String?
    ) -> CgroupLayout {
        var hierarchies: [CgroupHierarchy] = []
        // Split as bytes: Character-wise splitting of the whole table cost every container create ~1.5 M instructions.
        let cgroupMarker = Array(" - cgroup".utf8)
        for line in mountInfo.utf8.split(separator: UInt8(ascii: "\n")) {
            // Only cgroup mounts are split into fields (" - cgroup" is where the filesystem type begins).
            guard Self.contains(line, cgroupMarker) else { continue }
            let fields = line.split(separator: UInt8(ascii: " ")).map { String(Substring($0)) }
            guard let dash = fields.firstIndex(of: "-"), dash + 3 < fields.count + 1, fields.count > 4 else { continue }
            let fsType = fields[dash + 1]
            guard fsType == "cgroup" || fsType == "cgroup2" else { continue }
            let mountPoint = unescapeMountField(fields[4])
            if fsType == "cgroup" {
                let superOptions = dash + 3 < fields.count ? fields[dash + 3].split(separator: ",") : []
                let controllers = superOptions.map(String.init).filter {
                    !["rw", "ro", "relatime", "noexec", "nosuid", "nodev", "clone_children", "xattr"].contains($0)
                        && !$0.hasPrefix("name=") && !$0.hasPrefix("release_agent=")
                }
                // A named hierarchy (name=systemd) has no controllers and is kept out of the list.
                if !controllers.isEmpty {
                    hierarchies.append(CgroupHierarchy(mountPoint: mountPoint, version: 1, controllers: controllers))
                }
            } else if fsType == "cgroup2" {
                let text = readControllers(mountPoint) ?? ""
                let controllers = text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
                hierarchies.append(CgroupHierarchy(mountPoint: mountPoint, version: 2, controllers: controllers))
            }
        }
        let hasV1 = hierarchies.contains { $0.version == 1 }
        var mode = Self.mode(rootMagic: rootMagic, unifiedMagic: unifiedMagic, hasV1Mounts: hasV1)
        // Without statfs answers, fall back to the mount table alone.
        if rootMagic == nil && unifiedMagic == nil {
            let hasV2 = hierarchies.contains { $0.version == 2 }
            mode = hasV1 ? (hasV2 ? .hybrid : .v1) : (hasV2 ? .v2 : .none)
        }
        return CgroupLayout(mode: mode, hierarchies: hierarchies)
    }

    static func contains(_ bytes: Substring.UTF8View, _ pattern: [UInt8]) -> Bool {
        var start = bytes.startIndex
        while let i = bytes[start...].firstIndex(of: pattern[0]) {
            if bytes[i...].starts(with: pattern) { return true }
            start = bytes.index(after: i)
        }
        return false
    }

    /// Reads this host's layout: statfs of the cgroup mounts plus `/proc/self/mountinfo`.
    public static func detect() -> CgroupLayout {
        let mountInfo = (try? readTextFile("/proc/self/mountinfo")) ?? ""
        return parse(
            mountInfo: mountInfo, rootMagic: statfsMagic("/sys/fs/cgroup"),
            unifiedMagic: statfsMagic("/sys/fs/cgroup/unified"),
            readControllers: { try? readTextFile($0 + "/cgroup.controllers") })
    }

    public static func statfsMagic(_ path: String) -> Int? {
        let magic = cshim_statfs_magic(path)
        return magic < 0 ? nil : Int(magic)
    }
}

/// mountinfo escapes space, tab, newline and backslash as octal (\040 …).
public func unescapeMountField(_ field: String) -> String {
    guard field.contains("\\") else { return field }
    var out: [UInt8] = []
    let bytes = Array(field.utf8)
    var i = 0
    while i < bytes.count {
        if bytes[i] == UInt8(ascii: "\\"), i + 3 < bytes.count,
            let v = UInt8(String(decoding: bytes[(i + 1)...(i + 3)], as: UTF8.self), radix: 8)
        {
            out.append(v)
            i += 4
        } else {
            out.append(bytes[i])
            i += 1
        }
    }
    return String(decoding: out, as: UTF8.self)
}
