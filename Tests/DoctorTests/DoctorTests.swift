import Foundation
import Testing

@testable import Doctor

@Suite struct DoctorTests {
    static let fakeSlow = SlowProbes(
        kvm: { DoctorCheck(name: "kvm", status: .missing, detail: "fake") },
        tcg: { DoctorCheck(name: "tcg", status: .ok, detail: "fake", measuredMs: 1) },
        libvirt: { [DoctorCheck(name: "libvirt-embedded", status: .ok, detail: "fake")] })

    @Test func everyCapabilityHasOneLineAndActionsForProblems() throws {
        var env = ProcessInfo.processInfo.environment
        let dir = NSTemporaryDirectory() + "doctor-test-\(getpid())"
        env["BOXBENCH_CACHE"] = dir
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let checks = Doctor(paths: .init(environment: env)).run(slow: Self.fakeSlow, refresh: true)
        let names = checks.map(\.name)
        #expect(Set(names).count == names.count)
        for required in [
            "kvm-device", "kvm", "tcg", "libvirt-embedded", "cgroups", "seccomp", "user-namespaces", "overlayfs",
            "guest-kernel",
        ] {
            #expect(names.contains(required), "missing \(required)")
        }
        for c in checks where c.status != .ok && c.name != "kvm" {
            #expect(c.action != nil, "\(c.name) is \(c.status) without an action")
        }
        // Second run without --refresh reuses this boot's slow probes.
        let again = Doctor(paths: .init(environment: env)).run(slow: Self.fakeSlow, refresh: false)
        #expect(again.first { $0.name == "tcg" }?.cached == true)
        let json = try JSONSerialization.jsonObject(with: Data(checks.renderJSON().utf8))
        #expect((json as? [[String: Any]])?.count == checks.count)
    }
}
