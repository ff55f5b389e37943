import Foundation
import Probes
import Testing

@testable import Machines

/// The direct QEMU launcher's command line, decided from the artifacts and the config alone.
struct QemuArgumentTests {
    static func artifacts(disk: String? = nil, guest: GuestKind = .minimal) -> GuestArtifacts {
        GuestArtifacts(
            key: "k", directory: "/a", mode: disk == nil ? .initramfs : .disk, guest: guest, kernel: "/a/vmlinuz",
            kernelVersion: "6.1", initrd: "/a/initrd.img", disk: disk, kernelBytes: 1, initrdBytes: 1, modules: [],
            cached: true, buildMs: 0)
    }

    @Test func pcBootsTheSameArtifactsOnTheFIFOConsole() throws {
        var config = VMConfig(accel: .tcg, machine: .pc, memoryMiB: 256, vcpus: 1)
        config.dataDisk = "/v/disk.raw"
        let args = try QemuLauncher.arguments(
            name: "boxbench-1-2-ab", artifacts: Self.artifacts(disk: "/a/disk.raw", guest: .fullOS), config: config,
            console: "/run/vm/x/console", emulator: "/usr/bin/qemu-system-x86_64")
        let line = args.joined(separator: " ")
        #expect(args.first == "qemu-system-x86_64")
        #expect(line.contains("-name boxbench-1-2-ab") && line.contains("-machine pc,accel=tcg"))
        #expect(line.contains("-m 256 -smp 1") && line.contains("-nodefaults") && line.contains("-no-reboot"))
        #expect(line.contains("-kernel /a/vmlinuz") && line.contains("-initrd /a/initrd.img"))
        #expect(line.contains("-append \(DomainSpec.defaultCmdline)"))
        #expect(line.contains("-serial pipe:/run/vm/x/console"))
        // The full-OS root disk never changes (snapshot), the data disk bypasses the host's cache.
        #expect(
            line.contains(
                "-drive file=/a/disk.raw,format=raw,snapshot=on,if=none,id=root -device virtio-blk-pci,drive=root"))
        #expect(line.contains("-drive file=/v/disk.raw,format=raw,cache=none,aio=native,if=none,id=data"))
    }

    @Test func microvmUsesVirtioMMIOAndRefusesWhatItCannotBoot() throws {
        var config = VMConfig(accel: .kvm, machine: .microvm)
        config.dataDisk = "/v/d.raw"
        let args = try QemuLauncher.arguments(
            name: "n", artifacts: Self.artifacts(), config: config, console: "/c", emulator: "/q", hostTSCkHz: 2_596_132
        )
        #expect(args.joined(separator: " ").contains("-machine microvm,accel=kvm"))
        // Only a TCG microvm is told the TSC rate (KVM has kvmclock; pc has HPET and the ACPI PM timer).
        #expect(!args.joined(separator: " ").contains("tsc_early_khz"))
        let tcg = try QemuLauncher.arguments(
            name: "n", artifacts: Self.artifacts(), config: VMConfig(accel: .tcg, machine: .microvm), console: "/c",
            emulator: "/q", hostTSCkHz: 2_596_132)
        #expect(tcg.contains(DomainSpec.defaultCmdline + " tsc_early_khz=2596132"))
        #expect(args.joined(separator: " ").contains("-device virtio-blk-device,drive=data"))
        #expect(throws: MachineError.self) {
            try QemuLauncher.arguments(
                name: "n", artifacts: Self.artifacts(disk: "/d"), config: VMConfig(machine: .microvm), console: "/c",
                emulator: "/q")
        }
        var net = VMConfig()
        net.bridge = "br0"
        #expect(throws: MachineError.self) {
            try QemuLauncher.arguments(
                name: "n", artifacts: Self.artifacts(), config: net, console: "/c", emulator: "/q")
        }
        #expect(throws: MachineError.self) {
            try QemuLauncher.arguments(
                name: "n\u{1}", artifacts: Self.artifacts(), config: VMConfig(), console: "/c", emulator: "/q")
        }
    }
}
