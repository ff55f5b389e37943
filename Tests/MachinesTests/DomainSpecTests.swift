import CLibvirt
import Foundation
import FoundationXML
import Probes
import Testing

@testable import Machines

struct DomainSpecTests {
    @Test func theVMsDataDiskIsDirectAndItsSpecLineMountsIt() throws {
        var spec = DomainSpec(name: "d", kernel: "/k", initrd: "/i", serial: .pty)
        spec.dataDisk = DomainSpec.Disk(path: "/v/disk.raw", target: "vda", directIO: true)
        let xml = try spec.xml()
        #expect(xml.contains("cache='none'") && xml.contains("io='native'"), "\(xml)")
        #expect(xml.contains("<source file='/v/disk.raw'/>") && xml.contains("dev='vda'"), "\(xml)")
        var workload = GuestWorkload(argv: ["/usr/bin/fio"])
        workload.volume = "/dev/vda /data"
        #expect(try workload.specText().contains("\nvolume=/dev/vda /data\n"))
        workload.volume = "/dev/vda /da\nta"
        #expect(throws: MachineError.self) { try workload.specText() }
    }

    static let fixture = """
        <domain type='qemu'>
          <name>boxbench-1-1-ab</name>
          <memory unit='MiB'>256</memory>
          <vcpu placement='static'>1</vcpu>
          <os>
            <type arch='x86_64' machine='pc'>hvm</type>
            <kernel>/k/vmlinuz</kernel>
            <initrd>/g/initrd.img</initrd>
            <cmdline>console=ttyS0 quiet loglevel=0 panic=-1</cmdline>
          </os>
          <features>
            <acpi/>
          </features>
          <clock offset='utc'/>
          <on_poweroff>destroy</on_poweroff>
          <on_reboot>destroy</on_reboot>
          <on_crash>destroy</on_crash>
          <devices>
            <disk type='file' device='disk'>
              <driver name='qemu' type='raw'/>
              <source file='/g/disk.raw'/>
              <target dev='vda' bus='virtio'/>
            </disk>
            <controller type='usb' model='none'/>
            <serial type='pipe'>
              <source path='/run/boxbench/vm/x/console'/>
              <target port='0'/>
            </serial>
            <memballoon model='virtio'>
              <stats period='1'/>
            </memballoon>
          </devices>
        </domain>

        """

    @Test func rendersFixture() throws {
        let spec = DomainSpec(
            name: "boxbench-1-1-ab", kernel: "/k/vmlinuz", initrd: "/g/initrd.img",
            disk: .init(path: "/g/disk.raw"), serial: .pipe(path: "/run/boxbench/vm/x/console"))
        #expect(try spec.xml() == Self.fixture)
        // A full-OS guest's disk: the same, with libvirt's throw-away overlay asked for.
        var transient = spec
        transient.disk = .init(path: "/g/disk.raw", transient: true)
        #expect(
            try transient.xml()
                == Self.fixture.replacingOccurrences(
                    of: "<target dev='vda' bus='virtio'/>\n",
                    with: "<target dev='vda' bus='virtio'/>\n      <transient/>\n"))
    }

    @Test func microvmHasNoBalloonAndNoUSBController() throws {
        let spec = DomainSpec(
            name: "m", type: .kvm, machine: .microvm, kernel: "/k", initrd: "/i", serial: .pty)
        let xml = try spec.xml()
        #expect(xml.contains("<domain type='kvm'>"))
        #expect(xml.contains("machine='microvm'"))
        #expect(xml.contains("<memballoon model='none'/>"))
        #expect(!xml.contains("controller"))
        #expect(xml.contains("<serial type='pty'>"))
        #expect(throws: MachineError.self) {
            try DomainSpec(
                name: "m", machine: .microvm, kernel: "/k", initrd: "/i", disk: .init(path: "/d"), serial: .pty
            )
            .xml()
        }
    }

    static let hostile = ["a<b", "a&b", "it's", "say \"hi\"", "x]]>y", "<![CDATA[", "&amp;", "tab\there"]

    @Test(arguments: hostile) func escapesHostileValues(_ value: String) throws {
        let spec = DomainSpec(
            name: "n" + value, kernel: "/k/" + value, initrd: "/i", cmdline: "console=ttyS0 x=" + value,
            serial: .pipe(path: "/p/" + value))
        let xml = try spec.xml()
        // Parse it back with Foundation's XML parser: the values come back verbatim.
        let doc = try XMLDocument(xmlString: xml)
        #expect(try doc.nodes(forXPath: "/domain/name").first?.stringValue == "n" + value)
        #expect(try doc.nodes(forXPath: "/domain/os/kernel").first?.stringValue == "/k/" + value)
        #expect(try doc.nodes(forXPath: "/domain/os/cmdline").first?.stringValue == "console=ttyS0 x=" + value)
        #expect(try doc.nodes(forXPath: "/domain/devices/serial/source/@path").first?.stringValue == "/p/" + value)
        #expect(!xml.contains("]]>"))
    }

    @Test func refusesWhatXMLCannotCarry() {
        #expect(throws: MachineError.self) {
            try DomainSpec(name: "a\u{1}b", kernel: "/k", initrd: nil, serial: .pty).xml()
        }
        #expect(throws: MachineError.self) {
            try DomainSpec(name: "a/b", kernel: "/k", initrd: nil, serial: .pty).xml()
        }
        #expect(throws: MachineError.self) { try DomainSpec(name: "", kernel: "/k", initrd: nil, serial: .pty).xml() }
        #expect(throws: MachineError.self) {
            try DomainSpec(name: "a", memoryMiB: 0, kernel: "/k", initrd: nil, serial: .pty).xml()
        }
    }

    /// libvirt's own parser (the in-process test driver) accepts the XML and reads the hostile name back.
    @Test(arguments: ["plain", "a<b&c'd\"e]]>f"]) func testDriverRoundTrip(_ name: String) throws {
        let conn = try LibvirtConnection(uri: "test:///default")
        defer { conn.close() }
        let spec = DomainSpec(
            name: "boxbench-" + name, machine: .pc, memoryMiB: 128, vcpus: 2, kernel: "/k/vm&linuz",
            initrd: "/i/<initrd>", disk: .init(path: "/d/disk's.raw"), serial: .pipe(path: "/p/con\"sole"))
        let (parsedName, xml) = try conn.defineRoundTrip(xml: try spec.xml())
        #expect(parsedName == "boxbench-" + name)
        let doc = try XMLDocument(xmlString: xml)
        #expect(try doc.nodes(forXPath: "/domain/os/kernel").first?.stringValue == "/k/vm&linuz")
        #expect(try doc.nodes(forXPath: "/domain/os/initrd").first?.stringValue == "/i/<initrd>")
        #expect(try doc.nodes(forXPath: "/domain/devices/disk/source/@file").first?.stringValue == "/d/disk's.raw")
        #expect(try doc.nodes(forXPath: "/domain/on_poweroff").first?.stringValue == "destroy")
        #expect(try doc.nodes(forXPath: "/domain/vcpu").first?.stringValue == "2")
    }

    @Test func libvirtErrorsCarryLibvirtsMessage() throws {
        let conn = try LibvirtConnection(uri: "test:///default")
        defer { conn.close() }
        do {
            _ = try conn.defineRoundTrip(xml: "<domain type='qemu'><name>x</name></domain>")
            Issue.record("bad XML accepted")
        } catch let MachineError.libvirt(op, message) {
            #expect(op == "virDomainDefineXML")
            #expect(!message.isEmpty && message != "unknown libvirt error")
        }
        #expect(throws: MachineError.self) { _ = try LibvirtConnection(uri: "nosuchdriver:///x") }
    }
}

struct ConsoleTranscriptTests {
    static let console = """
        SeaBIOS noise\r
        BOXBENCH-MARK init t_mono_ns=1200000000 t_boot_ns=1250000000\r
        BOXBENCH-MARK workload-start t_mono_ns=1300000000\r
        hello\r
        world\r
        no newline at endBOXBENCH-MARK workload-exit code=3 t_mono_ns=1400000000\r
        BOXBENCH-MEM memtotal_kb=232000 memavailable_kb=200000\r
        BOXBENCH-MARK poweroff\r

        """

    @Test func parsesMarkersOutputAndMemory() {
        var t = ConsoleTranscript()
        let bytes = Array(Self.console.utf8)
        // Fed in small chunks at increasing times, as a FIFO delivers them.
        var ns: UInt64 = 100
        for chunk in stride(from: 0, to: bytes.count, by: 7) {
            t.feed(bytes[chunk..<min(chunk + 7, bytes.count)], atNs: ns)
            ns += 10
        }
        t.finish(atNs: ns)
        #expect(String(decoding: t.output, as: UTF8.self) == "hello\nworld\nno newline at end")
        #expect(t.exitCode == 3)
        #expect(t.guestInitBootNs == 1_250_000_000)
        #expect(t.memTotalKiB == 232_000 && t.memAvailableKiB == 200_000)
        let order = [t.initNs, t.workloadStartNs, t.firstOutputNs, t.workloadExitNs, t.poweroffNs].map { $0 ?? 0 }
        #expect(order == order.sorted() && !order.contains(0))
        #expect(t.firstOutputNs! < t.workloadExitNs!)
    }

    /// A full-OS guest: the init hands over to systemd (`os-init`), the unit's boxbench-init says `unit-start` (not a
    /// second `init`); both become steps, in order, and the workload is read as from the minimal guest.
    @Test func fullOSStepsAreRecordedOnce() {
        var t = ConsoleTranscript()
        let text = """
            BOXBENCH-MARK init t_mono_ns=1 t_boot_ns=1
            BOXBENCH-MARK root device=/dev/vda t_mono_ns=2 t_boot_ns=2
            BOXBENCH-MARK os-init t_mono_ns=3 t_boot_ns=3
            [  OK  ] Started boxbench-workload.service
            BOXBENCH-MARK unit-start t_mono_ns=9 t_boot_ns=9
            BOXBENCH-MARK workload-start t_mono_ns=10 t_boot_ns=10
            site ready
            BOXBENCH-MARK workload-exit code=0 t_mono_ns=11 t_boot_ns=11
            BOXBENCH-MARK os-init t_mono_ns=12 t_boot_ns=12

            """
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            t.feed(Array((line + "\n").utf8), atNs: UInt64(100 * (i + 1)))
        }
        #expect(t.stepNs.map(\.name) == ["root", "os-init", "unit-start"])
        #expect(t.stepNs.map(\.ns) == [200, 300, 500])
        #expect(t.initNs == 100 && t.guestInitMonoNs == 1)
        #expect(String(decoding: t.output, as: UTF8.self) == "site ready\n")
        #expect(t.exitCode == 0)
    }

    @Test func signalAndErrors() {
        var t = ConsoleTranscript()
        t.feed(
            Array(
                "BOXBENCH-MARK workload-start\nBOXBENCH-ERROR step=exec errno=2\nBOXBENCH-MARK workload-exit signal=9\n"
                    .utf8), atNs: 5)
        #expect(t.exitSignal == 9 && t.exitCode == nil)
        #expect(t.errors == ["step=exec errno=2"])
        #expect(t.output.isEmpty)
    }
}

struct ArtifactTests {
    /// Kernel modules go into a merged-/usr image through its `lib -> usr/lib` link, never over it.
    @Test func modulePathsFollowTheImagesSymlinks() throws {
        let root = NSTemporaryDirectory() + "boxbench-mergedusr-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/usr/lib", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: root + "/lib", withDestinationPath: "usr/lib")
        try FileManager.default.createSymbolicLink(atPath: root + "/abs", withDestinationPath: "/usr/lib")
        let m = "lib/modules/6.1/kernel/drivers/net/virtio_net.ko"
        #expect(GuestArtifactBuilder.throughSymlinks(m, in: root) == "usr/" + m)
        #expect(GuestArtifactBuilder.throughSymlinks("abs/x.ko", in: root) == "usr/lib/x.ko")
        #expect(GuestArtifactBuilder.throughSymlinks(m, in: nil) == m)
        #expect(GuestArtifactBuilder.throughSymlinks("usr/lib/x.ko", in: root) == "usr/lib/x.ko")
    }

    /// A full-OS guest leaves out the image's own unit for the workload's server (it would start a second nginx).
    @Test func fullOSDisablesTheImagesUnitForTheSameServer() throws {
        let root = NSTemporaryDirectory() + "boxbench-units-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let fm = FileManager.default
        let wants = root + "/etc/systemd/system/multi-user.target.wants"
        try fm.createDirectory(atPath: wants, withIntermediateDirectories: true)
        try fm.createDirectory(atPath: root + "/lib/systemd/system", withIntermediateDirectories: true)
        let units = [
            "nginx.service": "[Service]\nExecStartPre=/usr/sbin/nginx -t\nExecStart=/usr/sbin/nginx -g 'daemon on;'\n",
            "e2scrub_reap.service": "[Service]\nExecStart=/sbin/e2scrub -A -r\n",
            "nginx-helper.service": "[Service]\nExecStartPre=/usr/sbin/nginx -t\nExecStart=/bin/true\n",
        ]
        for (name, text) in units {
            try text.write(toFile: root + "/lib/systemd/system/" + name, atomically: true, encoding: .utf8)
            try fm.createSymbolicLink(atPath: wants + "/" + name, withDestinationPath: "/lib/systemd/system/" + name)
        }
        let program = GuestArtifactBuilder.serverProgram(["/usr/bin/bbwork", "serve", "7199", "nginx", "-g", "x"])
        #expect(program == "nginx")
        #expect(GuestArtifactBuilder.serverProgram(["/usr/sbin/redis-server", "--port", "1"]) == "redis-server")
        #expect(GuestArtifactBuilder.unitsStarting(program, rootfs: root) == ["nginx.service"])
        #expect(GuestArtifactBuilder.unitsStarting("redis-server", rootfs: root).isEmpty)
    }

    @Test func workloadSpecRefusesNewlines() throws {
        #expect(
            try GuestWorkload(argv: ["/bin/sh", "-c", "echo 'a&b' \"<x>\""], env: ["A=1"], cwd: "/tmp").specText()
                == "arg=/bin/sh\narg=-c\narg=echo 'a&b' \"<x>\"\nenv=A=1\ncwd=/tmp\n")
        #expect(try GuestWorkload(argv: ["id"], uid: 1000, gid: 100).specText().hasSuffix("uid=1000\ngid=100\n"))
        #expect(throws: MachineError.self) { try GuestWorkload(argv: ["a\nb"]).specText() }
        #expect(throws: MachineError.self) { try GuestWorkload(argv: []).specText() }
        #expect(throws: MachineError.self) { try GuestWorkload(argv: ["x"], env: ["NOEQUALS"]).specText() }
    }

    @Test func newcArchiveIsReadableByCpio() throws {
        let dir = FileManager.default.temporaryDirectory.path + "/machines-cpio-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir + "/tree/sub", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data("abc".utf8).write(to: URL(fileURLWithPath: dir + "/tree/sub/f"))
        try FileManager.default.createSymbolicLink(atPath: dir + "/tree/l", withDestinationPath: "sub/f")
        let w = try NewcArchiveWriter(path: dir + "/a.cpio")
        try w.addTree(root: dir + "/tree", skip: [])
        try w.node("dev/console", type: UInt32(S_IFCHR), mode: 0o600, major: 5, minor: 1)
        try w.file("init", contents: [1, 2, 3, 4, 5], mode: 0o755)
        try w.finish()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/cpio")
        p.arguments = ["-itv", "-F", dir + "/a.cpio"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let listing = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        for needle in ["l -> sub/f", " sub/f", "crw-------", "dev/console", "-rwxr-xr-x", " init"] {
            #expect(listing.contains(needle), "\(needle) missing in:\n\(listing)")
        }
    }

    @Test func moduleDependenciesFromModinfo() {
        let modinfo = Array("\0license=GPL\0depends=virtio,virtio_ring\0name=virtio_blk\0".utf8)
        #expect(KernelModuleSet.parseDepends(modinfo) == ["virtio", "virtio_ring"])
        #expect(KernelModuleSet.parseDepends(Array("\0depends=\0".utf8)).isEmpty)
        #expect(KernelModuleSet.moduleName(of: "kernel/lib/crc-t10dif.ko.xz") == "crc_t10dif")
    }

    @Test(
        .enabled(
            if: access(BoxbenchPaths().kernelModules, R_OK) == 0, "needs the guest kernel's modules (scripts/setup)"))
    func resolvesVirtioBlkFromTheCloudKernel() throws {
        let dir = BoxbenchPaths().kernelModules
        let order = try KernelModuleSet(modulesDir: dir).loadOrder(for: GuestArtifactBuilder.diskModules).map(\.name)
        #expect(order.contains("virtio_blk"))
        let ring = try #require(order.firstIndex(of: "virtio_ring"))
        #expect(ring < order.firstIndex(of: "virtio_blk")!)
        #expect(ring < order.firstIndex(of: "virtio_pci")!)
    }
}
