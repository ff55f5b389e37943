import Testing

@testable import Probes

@Suite struct CgroupParserTests {
    @Test func v1MemoryStats() throws {
        let stat = """
            cache 1200128
            rss 33554432
            rss_huge 0
            mapped_file 0
            total_cache 1200128
            total_rss 33554432
            """
        let oom = "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n"
        let m = try CgroupMemoryStats.v1(usage: "34754560\n", maxUsage: "35000000\n", stat: stat, oomControl: oom)
        #expect(m.currentBytes == 34_754_560)
        #expect(m.peakBytes == 35_000_000)
        #expect(m.anonBytes == 33_554_432)
        #expect(m.fileBytes == 1_200_128)
        #expect(m.oomKills == 1)
    }

    @Test func v2MemoryStats() throws {
        let stat = """
            anon 8192000
            file 4096
            kernel 12000
            shmem 0
            """
        let events = "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n"
        let m = try CgroupMemoryStats.v2(current: "8400000\n", peak: "9000000\n", stat: stat, events: events)
        #expect(m.currentBytes == 8_400_000)
        #expect(m.peakBytes == 9_000_000)
        #expect(m.anonBytes == 8_192_000)
        #expect(m.fileBytes == 4096)
        #expect(m.oomKills == 1)
    }

    @Test func v2PeakMissingOnOldKernels() throws {
        let m = try CgroupMemoryStats.v2(current: "10\n", peak: nil, stat: "anon 1\nfile 2\n", events: nil)
        #expect(m.peakBytes == nil)
    }

    @Test func cpuStats() throws {
        #expect(try CgroupCPUStats.v1(usage: "123456789\n").usageNs == 123_456_789)
        let v2 = try CgroupCPUStats.v2(cpuStat: "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 0\n")
        #expect(v2.usageNs == 1_500_000)
        #expect(v2.userNs == 1_000_000)
        #expect(v2.systemNs == 500_000)
    }

    @Test func maxMeansUnlimited() throws {
        #expect(try parseCgroupValue("max\n", file: "pids.max") == nil)
        #expect(try parseCgroupValue("7\n", file: "pids.current") == 7)
    }

    @Test func garbageNamesTheFileAndLine() {
        do {
            _ = try parseCgroupKeyedFile("anon 1\nfile two\n", file: "memory.stat")
            Issue.record("expected an error")
        } catch {
            #expect(error.description.contains("memory.stat"))
            #expect(error.description.contains("line 2"))
        }
    }
}

@Suite struct CgroupLayoutTests {
    static let hybridMountInfo = """
        31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
        32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
        33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
        35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
        39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
        40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
        """
    static let v2MountInfo = """
        25 20 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
        """
    static let v1MountInfo = """
        32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
        35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
        """

    @Test func hybridLikeThisHost() {
        let layout = CgroupLayout.parse(
            mountInfo: Self.hybridMountInfo, rootMagic: CgroupLayout.tmpfsMagic,
            unifiedMagic: CgroupLayout.cgroup2Magic, readControllers: { _ in "hugetlb\n" })
        #expect(layout.mode == .hybrid)
        #expect(layout.v1MountPoint(for: "memory") == "/sys/fs/cgroup/memory")
        #expect(layout.v1MountPoint(for: "cpuacct") == "/sys/fs/cgroup/cpuacct")
        #expect(layout.v2Controllers == ["hugetlb"])
        #expect(!layout.hierarchies.contains { $0.mountPoint.hasSuffix("systemd") })
    }

    @Test func pureV2() {
        let layout = CgroupLayout.parse(
            mountInfo: Self.v2MountInfo, rootMagic: CgroupLayout.cgroup2Magic, unifiedMagic: nil,
            readControllers: { _ in "cpuset cpu io memory hugetlb pids rdma misc\n" })
        #expect(layout.mode == .v2)
        #expect(layout.unifiedMountPoint == "/sys/fs/cgroup")
        #expect(layout.v2Controllers.contains("memory"))
        #expect(layout.v1MountPoint(for: "memory") == nil)
    }

    @Test func pureV1WithCoMountedControllers() {
        let layout = CgroupLayout.parse(
            mountInfo: Self.v1MountInfo, rootMagic: CgroupLayout.tmpfsMagic, unifiedMagic: nil,
            readControllers: { _ in nil })
        #expect(layout.mode == .v1)
        #expect(layout.v1MountPoint(for: "cpu") == "/sys/fs/cgroup/cpu,cpuacct")
        #expect(layout.v1MountPoint(for: "cpuacct") == "/sys/fs/cgroup/cpu,cpuacct")
    }

    @Test func escapedMountPoints() {
        #expect(unescapeMountField("/mnt/with\\040space") == "/mnt/with space")
    }

    @Test func thisHostIsDetectedByStatfs() {
        // CI runs on the hybrid host described in ENVIRONMENT.md; elsewhere just require a definite answer.
        let layout = CgroupLayout.detect()
        #expect(layout.mode != .none)
        if CgroupLayout.statfsMagic("/sys/fs/cgroup/unified") == CgroupLayout.cgroup2Magic {
            #expect(layout.mode == .hybrid)
            #expect(layout.v1MountPoint(for: "memory") != nil)
        }
    }
}
