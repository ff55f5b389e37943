/// A libvirt domain as boxbench uses it: direct kernel boot, one serial console, optional virtio disk.
/// Rendered to XML with every value escaped; nothing from the caller is glued in raw.
public struct DomainSpec: Sendable, Equatable {
    /// `<domain type=…>`: `qemu` is TCG, `kvm` hardware-assisted.
    public enum DomainType: String, Sendable, Codable, CaseIterable { case qemu, kvm }
    public enum Machine: String, Sendable, Codable, CaseIterable { case pc, q35, microvm }

    public struct Disk: Sendable, Equatable {
        public enum Format: String, Sendable { case raw, qcow2 }
        public var path: String
        public var format: Format = .raw
        public var target = "vda"
        public var readOnly = false
        /// Writes go to an overlay libvirt makes beside the file and deletes when the domain ends (a full-OS
        /// guest writes its journal and state; every boot starts from the same disk).
        public var transient = false
        /// cache=none io=native: the guest's writes reach the host file with O_DIRECT, past the host's page cache
        /// (a data volume measured against a host directory opened with O_DIRECT).
        public var directIO = false
    }

    /// Where the guest's ttyS0 goes on the host; the launcher reads it live.
    public enum Serial: Sendable, Equatable {
        /// FIFOs `path.in` / `path.out` made by the launcher beforehand (lossless, no attach race).
        case pipe(path: String)
        /// A UNIX socket QEMU listens on.
        case unixSocket(path: String)
        /// A pty, read through `virDomainOpenConsole` (lossless only with the create-paused split).
        case pty
    }

    public enum Balloon: Sendable, Equatable {
        /// virtio balloon; `statsPeriod` seconds between guest stat updates (nil: no stats).
        case virtio(statsPeriod: Int?)
        case none
    }

    public var name: String
    public var type: DomainType
    public var machine: Machine
    public var memoryMiB: Int
    public var vcpus: Int
    public var kernel: String
    public var initrd: String?
    public var cmdline: String
    public var disk: Disk?
    /// A second virtio disk (a data volume), after `disk`.
    public var dataDisk: Disk? = nil
    public var serial: Serial
    public var balloon: Balloon
    /// A virtio-net NIC on this Linux bridge (libvirt makes the tap and plugs it in); nil: no NIC.
    public var bridge: String? = nil
    /// The NIC's MAC address (a fixed one keeps the bench network's neighbour caches valid across boots).
    public var mac: String? = nil
    /// Host CPUs the vCPUs (and QEMU's other threads) may run on, e.g. "0"; nil: any.
    public var cpuset: String? = nil
    /// Optional emulator binary (default: libvirt's choice for the arch).
    public var emulator: String?

    public static let defaultCmdline = "console=ttyS0 quiet loglevel=0 panic=-1"

    public init(
        name: String, type: DomainType = .qemu, machine: Machine = .pc, memoryMiB: Int = 256, vcpus: Int = 1,
        kernel: String, initrd: String?, cmdline: String = DomainSpec.defaultCmdline, disk: Disk? = nil,
        serial: Serial, balloon: Balloon? = nil, emulator: String? = nil
    ) {
        self.name = name
        self.type = type
        self.machine = machine
        self.memoryMiB = memoryMiB
        self.vcpus = vcpus
        self.kernel = kernel
        self.initrd = initrd
        self.cmdline = cmdline
        self.disk = disk
        self.serial = serial
        // microvm takes no PCI device at all, so no balloon.
        self.balloon = balloon ?? (machine == .microvm ? .none : .virtio(statsPeriod: 1))
        self.emulator = emulator
    }

    /// The domain XML. Throws for values XML 1.0 cannot carry (control characters) and for inconsistent specs.
    public func xml() throws(MachineError) -> String {
        guard !name.isEmpty else { throw .invalidInput("domain name is empty") }
        guard !name.contains("/") else { throw .invalidInput("domain name \"\(name)\" contains '/'") }
        guard memoryMiB > 0 else { throw .invalidInput("memory must be positive, got \(memoryMiB) MiB") }
        guard vcpus > 0 else { throw .invalidInput("vcpus must be positive, got \(vcpus)") }
        if machine == .microvm, disk != nil || dataDisk != nil {
            throw .invalidInput("machine microvm has no PCI bus: use --rootfs initramfs")
        }
        if machine == .microvm, case .virtio = balloon {
            throw .invalidInput("machine microvm takes no virtio-pci balloon")
        }

        var x = XMLWriter()
        try x.open("domain", ["type": type.rawValue])
        try x.element("name", text: name)
        try x.element("memory", ["unit": "MiB"], text: String(memoryMiB))
        try x.element(
            "vcpu", cpuset.map { ["placement": "static", "cpuset": $0] } ?? ["placement": "static"], text: String(vcpus)
        )
        try x.open("os")
        try x.element("type", ["arch": "x86_64", "machine": machine.rawValue], text: "hvm")
        try x.element("kernel", text: kernel)
        if let initrd { try x.element("initrd", text: initrd) }
        try x.element("cmdline", text: cmdline)
        x.close("os")
        try x.open("features")
        // Without ACPI libvirt passes -no-acpi and the guest's poweroff never ends the domain.
        try x.empty("acpi")
        x.close("features")
        try x.empty("clock", ["offset": "utc"])
        try x.element("on_poweroff", text: "destroy")
        try x.element("on_reboot", text: "destroy")
        try x.element("on_crash", text: "destroy")
        try x.open("devices")
        if let emulator { try x.element("emulator", text: emulator) }
        for disk in [disk, dataDisk].compactMap({ $0 }) {
            try x.open("disk", ["type": "file", "device": "disk"])
            if disk.directIO {
                try x.empty("driver", ["name": "qemu", "type": disk.format.rawValue, "cache": "none", "io": "native"])
            } else {
                try x.empty("driver", ["name": "qemu", "type": disk.format.rawValue])
            }
            try x.empty("source", ["file": disk.path])
            try x.empty("target", ["dev": disk.target, "bus": "virtio"])
            if disk.readOnly { try x.empty("readonly") }
            if disk.transient { try x.empty("transient") }
            x.close("disk")
        }
        if machine != .microvm { try x.empty("controller", ["type": "usb", "model": "none"]) }
        if let bridge {
            try x.open("interface", ["type": "bridge"])
            try x.empty("source", ["bridge": bridge])
            if let mac { try x.empty("mac", ["address": mac]) }
            try x.empty("model", ["type": "virtio"])
            x.close("interface")
        }
        switch serial {
        case .pipe(let path):
            try x.open("serial", ["type": "pipe"])
            try x.empty("source", ["path": path])
        case .unixSocket(let path):
            try x.open("serial", ["type": "unix"])
            try x.empty("source", ["mode": "bind", "path": path])
        case .pty:
            try x.open("serial", ["type": "pty"])
        }
        try x.empty("target", ["port": "0"])
        x.close("serial")
        switch balloon {
        case .none:
            try x.empty("memballoon", ["model": "none"])
        case .virtio(let period):
            if let period {
                try x.open("memballoon", ["model": "virtio"])
                try x.empty("stats", ["period": String(period)])
                x.close("memballoon")
            } else {
                try x.empty("memballoon", ["model": "virtio"])
            }
        }
        x.close("devices")
        x.close("domain")
        return x.text
    }
}

/// A tiny XML writer: element and attribute values always go through `escape`.
struct XMLWriter {
    private(set) var text = ""
    private var depth = 0

    mutating func open(_ tag: String, _ attrs: KeyValuePairs<String, String> = [:]) throws(MachineError) {
        text += indent + "<" + tag + (try Self.attributes(attrs)) + ">\n"
        depth += 1
    }

    mutating func close(_ tag: String) {
        depth -= 1
        text += indent + "</" + tag + ">\n"
    }

    mutating func element(_ tag: String, _ attrs: KeyValuePairs<String, String> = [:], text value: String)
        throws(MachineError)
    {
        text +=
            indent + "<" + tag + (try Self.attributes(attrs)) + ">" + (try Self.escape(value, field: tag)) + "</"
            + tag + ">\n"
    }

    mutating func empty(_ tag: String, _ attrs: KeyValuePairs<String, String> = [:]) throws(MachineError) {
        text += indent + "<" + tag + (try Self.attributes(attrs)) + "/>\n"
    }

    private var indent: String { String(repeating: "  ", count: depth) }

    private static func attributes(_ attrs: KeyValuePairs<String, String>) throws(MachineError) -> String {
        var s = ""
        for (k, v) in attrs { s += " " + k + "='" + (try escape(v, field: k)) + "'" }
        return s
    }

    /// Escapes the five XML specials; refuses characters XML 1.0 cannot represent at all.
    static func escape(_ value: String, field: String) throws(MachineError) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\t", "\n", "\r": out += "&#\(scalar.value);"
            default:
                if scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF {
                    throw .invalidInput("\(field): character U+\(String(scalar.value, radix: 16)) cannot appear in XML")
                }
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
