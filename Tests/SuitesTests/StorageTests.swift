import Foundation
import Machines
import Probes
import Results
import Testing

@testable import Suites

/// fio's report and the `volume:` key, read without running anything.
@Suite struct StorageParsingTests {
    /// fio 3.33's JSON, trimmed to what the reader looks at (the real report has every field of every direction).
    static func fioReport(readIOPS: Double, p50: Int, error: Int = 0, note: String = "") -> String {
        """
        \(note){
          "fio version" : "fio-3.33",
          "timestamp" : 1796218070,
          "time" : "Wed Dec  2 13:27:50 2026",
          "global options" : {"directory" : "/data", "size" : "128m", "direct" : "1", "ioengine" : "libaio"},
          "jobs" : [
            {
              "jobname" : "randread_4k_qd16", "groupid" : 0, "error" : \(error), "elapsed" : 3,
              "job options" : {"rw" : "randread", "bs" : "4k", "iodepth" : "16"},
              "read" : {"io_bytes" : 741793792, "bw_bytes" : \(readIOPS * 4096), "iops" : \(readIOPS),
                        "clat_ns" : {"min" : 1, "percentile" : {"50.000000" : \(p50), "99.000000" : 1056768}}},
              "write" : {"io_bytes" : 0, "bw_bytes" : 0, "iops" : 0.000000, "clat_ns" : {"min" : 0}}
            },
            {
              "jobname" : "seqwrite_1m_qd4", "groupid" : 0, "error" : 0, "elapsed" : 3,
              "job options" : {"rw" : "write", "bs" : "1m", "iodepth" : "4"},
              "read" : {"io_bytes" : 0, "bw_bytes" : 0, "iops" : 0.000000},
              "write" : {"io_bytes" : 6291456000, "bw_bytes" : 2097152000, "iops" : 2000.000000,
                         "clat_ns" : {"percentile" : {"50.000000" : 1892352, "99.000000" : 4177920}}}
            }
          ]
        }
        """
    }

    @Test func fioFiguresAreReadPerJobInTheDirectionItRan() {
        let out = WorkloadOutput(Self.fioReport(readIOPS: 58896.5, p50: 246784))
        #expect(out.values["fio_randread_4k_qd16_ops_per_s"] == 58896.5)
        #expect(out.values["fio_randread_4k_qd16_bytes_per_s"] == 58896.5 * 4096)
        #expect(out.values["fio_randread_4k_qd16_clat_p50_ns"] == 246784)
        #expect(out.values["fio_randread_4k_qd16_clat_p99_ns"] == 1_056_768)
        #expect(out.values["fio_seqwrite_1m_qd4_ops_per_s"] == 2000)
        #expect(out.values["fio_seqwrite_1m_qd4_bytes_per_s"] == 2_097_152_000)
        // No figure for the direction a job did not move bytes in.
        #expect(out.values["fio_randread_4k_qd16_ops_per_s"] != nil && out.values.count == 8, "\(out.values.keys)")
        #expect(Metric.named("work_fio_randread_4k_qd16_ops_per_s").lowerIsBetter == false)
    }

    /// The behaviour is what was asked and whether it failed: other figures, a note before the report or another
    /// timestamp are the same behaviour; a failed job or other options are not.
    @Test func fioBehaviourIsTheJobsNotTheFigures() {
        let base = WorkloadOutput(Self.fioReport(readIOPS: 58896.5, p50: 246784)).digest
        #expect(WorkloadOutput(Self.fioReport(readIOPS: 6099, p50: 2_000_000)).digest == base)
        #expect(
            WorkloadOutput(Self.fioReport(readIOPS: 6099, p50: 1, note: "note: both iodepth >= 1 and …\n")).digest
                == base)
        #expect(WorkloadOutput(Self.fioReport(readIOPS: 6099, p50: 1, error: 22)).digest != base)
        let otherDepth = Self.fioReport(readIOPS: 1, p50: 1).replacingOccurrences(
            of: "\"iodepth\" : \"16\"", with: "\"iodepth\" : \"1\"")
        #expect(WorkloadOutput(otherDepth).digest != base)
        // Not fio's report: read as before (a line of braces is behaviour, not a parse failure).
        #expect(WorkloadOutput("{ not json\n").values.isEmpty)
    }

    @Test func volumesAreParsedWithDefaults() throws {
        let s = try Suite.parse(
            """
            arms: [{kind: native}, {kind: vm, workloads: [fio]}]
            workloads:
              - name: fio
                volume: {path: /data/, size: 2GiB}
              - name: fio-overlay
                dockerfile: workloads/fio/Dockerfile
                volume: {path: /data, on: overlay}
            """, path: "/b/s.yaml")
        #expect(s.workloads[0].volume == VolumeSpec(path: "/data", sizeBytes: 2 << 30, on: .bind))
        #expect(s.workloads[1].volume == VolumeSpec(path: "/data", sizeBytes: 1 << 30, on: .overlay))
    }

    @Test(arguments: [
        ("volume: {size: 1GiB}", "workloads[0].volume.path", 4),
        ("volume: {path: data}", "workloads[0].volume.path", 4),
        ("volume: {path: /}", "workloads[0].volume.path", 4),
        ("volume: {path: /a/../etc}", "workloads[0].volume.path", 4),
        ("volume: {path: /data, size: 1MiB}", "workloads[0].volume.size", 4),
        ("volume: {path: /data, on: tmpfs}", "workloads[0].volume.on", 4),
        ("volume: {path: /data, extra: 1}", "workloads[0].volume.extra", 4),
    ])
    func badVolumesAreNamed(volume: String, key: String, line: Int) {
        do {
            _ = try Suite.parse("arms: [{kind: native}]\nworkloads:\n  - name: s\n    \(volume)\n", path: "s.yaml")
            Issue.record("expected an error for \(key)")
        } catch {
            #expect(error.key == key, "\(error)")
            #expect(error.line == line, "\(error)")
        }
    }

    /// A VM has no writable layer: an overlay volume in a VM arm is refused at load, naming the line and the way out.
    @Test func anOverlayVolumeInAVMArmIsRefused() {
        do {
            _ = try Suite.parse(
                "arms: [{kind: native}, {kind: vm}]\nworkloads:\n  - name: s\n    volume: {path: /d, on: overlay}\n",
                path: "s.yaml")
            Issue.record("expected an error")
        } catch {
            #expect(error.key == "workloads[0].volume.on" && error.line == 4, "\(error)")
            #expect(error.message.contains("VM arm vm") && error.message.contains("workloads:"), "\(error)")
        }
    }
}

/// Data volumes in every arm through the real runner: a bind volume is a real mount at its path (ext4 from the host
/// directory or the VM's disk), an overlay volume is the writable layer; fio runs with O_DIRECT on both; nothing is
/// left in the volumes directory.
@Suite(
    .serialized,
    .enabled(if: getuid() == 0, "needs root: containers, mounts, VMs"),
    .enabled(
        if: FileManager.default.fileExists(atPath: BoxbenchPaths().workloadBinary)
            && FileManager.default.fileExists(atPath: BoxbenchPaths().kitDir + "/fio/usr/bin/fio")
            && access("/usr/bin/crun", X_OK) == 0,
        "needs the kit with fio staged and crun (scripts/setup)"),
    .enabled(
        if: FileManager.default.fileExists(atPath: BoxbenchPaths().kernelImage),
        "needs the guest kernel (scripts/setup)"))
struct StorageTests {
    @Test func volumesAreRealMountsAndFioRunsOnThemInEveryArm() throws {
        let context = NSTemporaryDirectory() + "boxbench-storage-test-\(getpid())"
        try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: context) }
        // What the volume is, seen from inside: its file system type in the mount table (no line: not a mount).
        try """
        FROM boxbench/busybox
        RUN mkdir -p /data
        CMD ["sh", "-c", "awk '$2 == \\"/data\\" { print $3 }' /proc/self/mounts; echo x > /data/x && cat /data/x"]
        """.write(toFile: context + "/Dockerfile.check", atomically: true, encoding: .utf8)
        // A short fio job (the benchmark's job file runs 12 s).
        try """
        FROM boxbench/busybox
        COPY fio/ /
        RUN mkdir -p /data
        ENTRYPOINT ["/usr/bin/fio", "--output-format=json", "--directory=/data", "--size=16m", "--direct=1", \\
                    "--ioengine=libaio", "--time_based", "--runtime=1", "--filename=f"]
        CMD ["--name=randread_4k_qd8", "--rw=randread", "--bs=4k", "--iodepth=8"]
        """.write(toFile: context + "/Dockerfile.fio", atomically: true, encoding: .utf8)
        let yaml = """
            name: storage-small
            repetitions: 1
            warmups: 0
            timeout: 120
            arms:
              - kind: native
              - kind: container
              - kind: container
                engine: crun
              - kind: vm
                accel: tcg
                memory: 512
                workloads: [check, fio]
            workloads:
              - name: check
                dockerfile: \(context)/Dockerfile.check
                volume: {path: /data, size: 64MiB}
              - name: check-overlay
                dockerfile: \(context)/Dockerfile.check
                volume: {path: /data, on: overlay}
              - name: fio
                dockerfile: \(context)/Dockerfile.fio
                volume: {path: /data, size: 64MiB}
            """
        let doc = try runTestSuite(yaml, path: RealSuiteTests.repoRoot + "/Benchmarks/storage-small.yaml", seed: 3)
        #expect(doc.samples.count == 11)
        for s in doc.samples { #expect(s.status == .ok, "\(s.arm) \(s.workload): \(s.failure ?? "")") }
        // Every arm saw the same thing: an ext4 mount at /data (the host's directory, or the VM's disk), writable.
        let check = Set(doc.samples.filter { $0.workload == "check" }.compactMap(\.outputDigest))
        #expect(check == [WorkloadOutput("ext4\nx\n").digest], "\(check)")
        // The overlay variant: no mount at /data, the image's own directory in the writable layer.
        let overlay = Set(doc.samples.filter { $0.workload == "check-overlay" }.compactMap(\.outputDigest))
        #expect(overlay == [WorkloadOutput("x\n").digest], "\(overlay)")
        for s in doc.samples where s.workload == "fio" {
            #expect((s.metrics["work_fio_randread_4k_qd8_ops_per_s"] ?? 0) > 0, "\(s.arm): \(s.metrics.keys.sorted())")
            #expect((s.metrics["work_fio_randread_4k_qd8_clat_p50_ns"] ?? 0) > 0, "\(s.arm)")
        }
        #expect(Set(doc.samples.filter { $0.workload == "fio" }.compactMap(\.outputDigest)).count == 1)
        #expect(doc.notes.contains { $0.contains("I/O volumes live in \(BoxbenchPaths().volumes)") }, "\(doc.notes)")
        let left = ((try? FileManager.default.contentsOfDirectory(atPath: BoxbenchPaths().volumes)) ?? []).filter {
            OwnedName.owner(of: $0) == getpid()
        }
        #expect(left.isEmpty, "volumes left: \(left)")
    }
}
