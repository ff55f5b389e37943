import Foundation
import Probes
import Testing

@testable import Machines

/// The accel probe answers definitely within its timeout and leaves no QEMU behind (root + QEMU only).
/// Part of the serialized BootTests suite: guests never boot concurrently on this 2-core host.
extension BootTests {
    func runProbe(_ accel: Accel) -> AccelProbeResult {
        AccelProbe(uri: LibvirtConnection.embedURI(root: BootTests.testRoot), kvmTimeout: .seconds(8)).probe(accel)
    }

    @Test func tcgBoots() {
        let r = runProbe(.tcg)
        print("tcg probe:", r.reason)
        #expect(r.booted, "\(r.reason)")
        #expect((r.bootMs ?? 0) > 0)
    }

    @Test func kvmGivesADefiniteAnswerWithinItsTimeout() {
        let t0 = monotonicNanos()
        let r = runProbe(.kvm)
        let seconds = Double(monotonicNanos() - t0) / 1e9
        print("kvm probe (\(String(format: "%.1f", seconds)) s):", r.booted, r.reason)
        #expect(seconds < 8 + 12, "the probe must not outlive its timeout by much")
        if !r.booted { #expect(!r.reason.isEmpty) }
        let leftovers =
            (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.filter { e in
                guard let pid = Int32(e), let cmd = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else {
                    return false
                }
                let s = String(decoding: cmd, as: UTF8.self)
                // Only the probe's own guest: other suites of this process boot theirs meanwhile.
                return s.contains("qemu") && s.contains("guest=\(r.domainName ?? "boxbench-\(getpid())-")")
            } ?? []
        #expect(leftovers.isEmpty, "QEMU left behind: \(leftovers)")
    }
}
