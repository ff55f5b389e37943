import ArgumentParser
import Doctor
import Foundation
import Machines
import Probes

enum DoctorFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json
}

struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Measure what this host can do: KVM (does a guest boot?), TCG, libvirt, cgroups, …")

    @Option(help: "table or json.") var format: DoctorFormat = .table
    @Flag(help: "Re-measure the slow probes (guest boots) instead of using this boot's cache.") var refresh = false

    func run() throws {
        installCancellationHandlers(extra: { VMRunner.cancelAll() })
        let checks = Doctor().run(slow: Self.slowProbes(), refresh: refresh)
        switch format {
        case .table: print(checks.renderTable())
        case .json: print(checks.renderJSON())
        }
    }

    static func slowProbes() -> SlowProbes {
        let probe = AccelProbe(kvmTimeout: .seconds(8), tcgTimeout: .seconds(40))
        return SlowProbes(
            kvm: {
                let r = probe.probe(.kvm)
                if r.booted {
                    return DoctorCheck(
                        name: "kvm", status: .ok, detail: "probe guest booted under KVM", measuredMs: r.bootMs)
                }
                return DoctorCheck(
                    name: "kvm", status: .missing,
                    detail: "unusable — \(r.reason)",
                    action: "VMs run under TCG (software emulation); results are labelled accel=tcg")
            },
            tcg: {
                let r = probe.probe(.tcg)
                if r.booted {
                    return DoctorCheck(
                        name: "tcg", status: .ok, detail: "probe guest booted under TCG (launch → init marker)",
                        measuredMs: r.bootMs)
                }
                return DoctorCheck(
                    name: "tcg", status: .missing, detail: r.reason, action: "install qemu-system-x86 (scripts/setup)")
            },
            libvirt: {
                var checks: [DoctorCheck] = []
                do {
                    let t0 = monotonicNanos()
                    let conn = try LibvirtConnection.embedded()
                    let ms = Double(monotonicNanos() - t0) / 1e6
                    checks.append(
                        DoctorCheck(
                            name: "libvirt-embedded", status: .ok,
                            detail: "\(conn.uri) opened through the C API; libvirt \(conn.libraryVersion)",
                            measuredMs: ms))
                    conn.close()
                } catch {
                    checks.append(
                        DoctorCheck(
                            name: "libvirt-embedded", status: .missing, detail: "\(error)",
                            action: "install libvirt-daemon-system (scripts/setup)"))
                }
                // qemu:///system only if a daemon is listening: connecting to a dead socket would just fail slowly.
                if FileManager.default.fileExists(atPath: "/var/run/libvirt/libvirt-sock"),
                    let conn = try? LibvirtConnection(uri: "qemu:///system")
                {
                    checks.append(
                        DoctorCheck(
                            name: "libvirt-system", status: .ok,
                            detail: "qemu:///system answers; libvirt \(conn.libraryVersion)"))
                    conn.close()
                } else {
                    checks.append(
                        DoctorCheck(
                            name: "libvirt-system", status: .degraded,
                            detail: "no libvirtd listening (not needed: the embedded driver is the default)",
                            action: "scripts/setup --daemon starts virtlogd + libvirtd for --vm-uri qemu:///system"))
                }
                return checks
            })
    }
}
