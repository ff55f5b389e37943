import Testing

@testable import Probes

@Suite struct ProcParserTests {
    static let smapsRollup = """
        556524ebf000-7fffe1443000 ---p 00000000 00:00 0                          [rollup]
        Rss:                1676 kB
        Pss:                 422 kB
        Pss_Dirty:           116 kB
        Pss_Anon:            116 kB
        Pss_File:            306 kB
        Pss_Shmem:             0 kB
        Shared_Clean:       1488 kB
        Shared_Dirty:          0 kB
        Private_Clean:        72 kB
        Private_Dirty:       116 kB
        Swap:                  0 kB
        """

    @Test func smapsRollupInBytes() throws {
        let s = try SmapsRollup.parse(Self.smapsRollup)
        #expect(s.rssBytes == 1676 * 1024)
        #expect(s.pssBytes == 422 * 1024)
        #expect(s.pssAnonBytes == 116 * 1024)
        #expect(s.pssFileBytes == 306 * 1024)
        #expect(s.privateBytes == (72 + 116) * 1024)
    }

    @Test func smapsRollupWithoutPssIsAnError() {
        #expect(throws: ProbeParseError.self) { try SmapsRollup.parse("Rss: 12 kB\n") }
    }

    @Test func procStatWithSpacesAndParensInComm() throws {
        let text =
            "7447 (my (odd) cmd) S 7441 7441 1306 0 -1 4194304 100 0 0 0 11 7 0 0 20 0 3 0 263912 3133440 390 18446744073709551615 1 2 3\n"
        let s = try ProcStat.parse(text)
        #expect(s.pid == 7447)
        #expect(s.comm == "my (odd) cmd")
        #expect(s.state == "S")
        #expect(s.ppid == 7441)
        #expect(s.utimeTicks == 11)
        #expect(s.stimeTicks == 7)
        #expect(s.threads == 3)
        #expect(s.startTimeTicks == 263912)
        #expect(s.virtualBytes == 3_133_440)
        #expect(s.rssPages == 390)
    }

    @Test func procStatTruncatedIsAnError() {
        #expect(throws: ProbeParseError.self) { try ProcStat.parse("12 (x) R 1 2 3\n") }
    }

    @Test func memInfo() throws {
        let m = try MemInfo.parse(
            """
            MemTotal:       24567808 kB
            MemFree:        20000000 kB
            MemAvailable:   22000000 kB
            HugePages_Total:       0
            """)
        #expect(m.totalBytes == 24_567_808 * 1024)
        #expect(m.availableBytes == 22_000_000 * 1024)
        #expect(m.values["HugePages_Total"] == 0)
    }

    @Test func liveProcFilesParse() throws {
        // This process's own files: the parsers must accept what this kernel writes.
        let stat = try ProcStat.parse(try readTextFile("/proc/self/stat"))
        #expect(stat.pid > 0)
        let rollup = try SmapsRollup.parse(try readTextFile("/proc/self/smaps_rollup"))
        #expect(rollup.rssBytes > 0)
        #expect(try MemInfo.parse(try readTextFile("/proc/meminfo")).totalBytes > 0)
    }
}
