import Containers
import Foundation
import Images
import PropertyBased
import Suites
import Testing

/// Property: random and mutated inputs never crash a parser; every failure is the parser's own typed error
/// naming the file. Bounded by count (each property runs in a few seconds in debug builds).
@Suite struct FuzzTests {
    static let iterations = Int(ProcessInfo.processInfo.environment["BOXBENCH_FUZZ_ITERATIONS"] ?? "") ?? 1500

    // MARK: seeds: valid documents the mutations start from

    static let dockerfileSeeds: [String] = {
        var seeds = [
            "# escape=`\nARG BASE=scratch\nFROM ${BASE} AS build\nENV A=1 B=\"two words\"\nRUN echo hi `\n  && true\n",
            "FROM busybox\nCOPY --chmod=755 a b /dst/\nADD x.tar /\nWORKDIR /w\nUSER 1000:1000\nEXPOSE 80/tcp 53/udp\n"
                + "LABEL a=b \"c d\"=e\nSHELL [\"/bin/sh\", \"-c\"]\nVOLUME [\"/v\"]\nSTOPSIGNAL SIGTERM\n"
                + "ENTRYPOINT [\"/bin/sh\"]\nCMD [\"-c\", \"echo\"]\n",
        ]
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../Benchmarks/workloads")
        for dir in (try? FileManager.default.contentsOfDirectory(atPath: repo.path)) ?? [] {
            if let text = try? String(contentsOfFile: repo.path + "/" + dir + "/Dockerfile", encoding: .utf8) {
                seeds.append(text)
            }
        }
        return seeds
    }()

    static let suiteSeeds: [String] = [
        """
        name: fuzz
        repetitions: 3
        warmups: 1
        timeout: 30
        cache: warm
        seed: 42
        isolation_probe: true
        arms:
          - kind: native
          - kind: container
            engine: runc
          - kind: vm
            accel: tcg
            memory: 256
            vcpus: 1
            machine: q35
            rootfs: disk
        workloads:
          - name: hello
            args: [hello, "--n", "1"]
            memory_limit: 64MiB
            pids_limit: 32
          - name: idle
            dockerfile: workloads/idle/Dockerfile
        density:
          workload: idle
          levels: [1, 2, 4]
          arms: [container]
        """,
        "arms: [{kind: native}, {kind: container, name: c2}]\nworkloads: [{name: a, context: ., args: []}]\n",
    ]

    static let specSeeds: [String] = {
        var s = RuntimeSpec.defaultSpec(args: ["/bin/sh", "-c", "echo hi"])
        s.applyLimits(memoryBytes: 64 << 20, pidsMax: 32)
        return [String(decoding: s.jsonData(), as: UTF8.self)]
    }()

    // MARK: mutation

    /// Applies each mutation word to `text`: flip, insert, delete, duplicate a span, splice a token, truncate.
    static func mutate(_ text: String, _ words: [UInt64], tokens: [String]) -> [UInt8] {
        var b = Array(text.utf8)
        for w in words {
            let pos = b.isEmpty ? 0 : Int((w >> 8) % UInt64(b.count + 1))
            let byte = UInt8(truncatingIfNeeded: w >> 40)
            switch w % 8 {
            case 0 where pos < b.count: b[pos] ^= 1 << (byte % 8)
            case 1: b.insert(byte, at: pos)
            case 2 where pos < b.count: b.remove(at: pos)
            case 3:
                let len = min(Int(byte % 32), b.count - pos)
                if len > 0 { b.insert(contentsOf: b[pos..<(pos + len)], at: pos) }
            case 4, 5: b.insert(contentsOf: Array(tokens[Int(byte) % tokens.count].utf8), at: pos)
            case 6 where pos < b.count:
                b[pos] = [0, 0x0a, 0x0d, 0x5c, 0x22, 0x27, 0xff, 0x7b, 0x5b, 0x3a][Int(byte % 10)]
            default: if byte < 8 { b.removeSubrange(pos...) }
            }
        }
        return b
    }

    static let dockerTokens = [
        "FROM ", "RUN ", "COPY ", "ADD ", "ENV ", "ARG ", "\\\n", "`\n", "# escape=`\n", "[\"", "\"]", "--chmod=",
        "--from=", "${A:-x}", "$", "=", " AS ", "\n", "\r\n", "#", "\t", "\u{0}", "é", "ONBUILD ", "HEALTHCHECK ",
        "EXPOSE 65536", "--platform=", "'", "\"",
    ]
    static let yamlTokens = [
        "- ", ": ", "\n", "  ", "\t", "[", "]", "{", "}", "&a ", "*a", "!!binary ", "? ", "---\n", "...\n", "|\n",
        ">-\n", "\"", "'", "#", "%YAML 1.1\n", "kind: vm", "memory_limit: 99999999999999GiB", ".nan", "~", "null",
        "-1", "9999999999999999999999", "<<: *a", "\u{0}", "\u{FEFF}",
    ]
    static let jsonTokens = [
        "{", "}", "[", "]", ",", ":", "\"", "null", "true", "-1", "1e999", "18446744073709551616", "\\u0000",
        "\"linux\":{}", "\"process\":null", "\"args\":[]", "\"cgroupsPath\":\"/\"", "\"namespaces\":[{\"type\":\"x\"}]",
        "\"mounts\":[{\"destination\":\"..\"}]", "\u{0}", "\\", "\"\\ud800\"",
    ]

    static let mutations = Gen.uint64().array(of: 1...24)

    // MARK: properties

    @Test func dockerfileParserNeverCrashes() async {
        let seeds = Self.dockerfileSeeds
        await propertyCheck(count: Self.iterations, input: Gen.int(in: 0...(seeds.count - 1)), Self.mutations) {
            i, words in
            let bytes = Self.mutate(seeds[i], words, tokens: Self.dockerTokens)
            let text = String(decoding: bytes, as: UTF8.self)
            do { _ = try Dockerfile.parse(text, file: "fuzz/Dockerfile") } catch let e as DockerfileError {
                #expect(e.file == "fuzz/Dockerfile" && e.line >= 1, "bad position in \(e)")
            } catch {
                Issue.record("untyped error \(type(of: error)): \(error) for \(text.debugDescription)")
            }
        }
    }

    @Test func dockerfileParserOnRandomTokens() async {
        await propertyCheck(count: Self.iterations, input: Gen.element(of: Self.dockerTokens).array(of: 0...80)) {
            parts in
            let text = parts.compactMap { $0 }.joined()
            do { _ = try Dockerfile.parse(text, file: "tokens") } catch let e as DockerfileError {
                #expect(e.line >= 1 && e.line <= text.utf8.count + 1, "line \(e.line) outside the text")
            } catch {
                Issue.record("untyped error \(type(of: error)): \(error)")
            }
        }
    }

    @Test func suiteParserNeverCrashes() async {
        let seeds = Self.suiteSeeds
        await propertyCheck(count: Self.iterations, input: Gen.int(in: 0...(seeds.count - 1)), Self.mutations) {
            i, words in
            let text = String(decoding: Self.mutate(seeds[i], words, tokens: Self.yamlTokens), as: UTF8.self)
            do { _ = try Suite.parse(text, path: "/fuzz/suite.yaml") } catch let e as SuiteError {
                #expect(e.file == "/fuzz/suite.yaml")
                #expect(!e.message.isEmpty)
                if let line = e.line { #expect(line >= 0, "negative line") }
            } catch {
                Issue.record("untyped error \(type(of: error)): \(error)")
            }
        }
    }

    @Test func suiteParserOnRandomTokens() async {
        let tokens: [String] = Self.yamlTokens + ["arms", "workloads", "name", "a"]
        await propertyCheck(count: Self.iterations, input: Gen.element(of: tokens).array(of: 0...60)) { parts in
            let text = parts.compactMap { $0 }.joined()
            do { _ = try Suite.parse(text, path: "/fuzz/tokens.yaml") } catch let e as SuiteError {
                #expect(e.file == "/fuzz/tokens.yaml")
            } catch {
                Issue.record("untyped error \(type(of: error)): \(error)")
            }
        }
    }

    @Test func configJSONParserNeverCrashes() async {
        let seeds = Self.specSeeds
        await propertyCheck(count: Self.iterations, input: Gen.int(in: 0...(seeds.count - 1)), Self.mutations) {
            i, words in
            let data = Data(Self.mutate(seeds[i], words, tokens: Self.jsonTokens))
            do {
                let spec = try RuntimeSpec.parse(data, file: "/fuzz/config.json")
                // Whatever parses must survive a round trip through the writer.
                _ = try RuntimeSpec.parse(spec.jsonData(), file: "/fuzz/again.json")
            } catch let e as SpecError {
                #expect(e.file.hasPrefix("/fuzz/"), "error names \(e.file)")
            } catch {
                Issue.record("untyped error \(type(of: error)): \(error)")
            }
        }
    }
}
