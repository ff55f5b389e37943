import Testing

@testable import Images

struct DockerfileParserTests {
    static let valid: [(name: String, text: String, keywords: [String])] = [
        ("scratch", "FROM scratch\nCOPY a /a\n", ["FROM", "COPY"]),
        ("comments and blanks", "# a comment\n\nFROM scratch\n  # indented comment\nCMD [\"x\"]\n", ["FROM", "CMD"]),
        ("continuation with comment inside", "FROM scratch\nRUN echo a \\\n# dropped\n  && echo b\n", ["FROM", "RUN"]),
        (
            "backtick escape", "# escape=`\nFROM scratch\nRUN echo a `\n  b\nWORKDIR C:\\x\n",
            ["FROM", "RUN", "WORKDIR"]
        ),
        ("arg before from", "ARG V=1\nFROM boxbench/busybox:${V}\n", ["ARG", "FROM"]),
        ("lowercase keywords", "from scratch as build\nenv A=1 B=\"two words\"\n", ["FROM", "ENV"]),
        ("legacy env", "FROM scratch\nENV PATH /usr/bin:/bin\n", ["FROM", "ENV"]),
        (
            "all metadata",
            "FROM scratch\nLABEL a=b \"c d\"=e\nUSER 1000:1000\nEXPOSE 80 53/udp\nSTOPSIGNAL SIGTERM\nVOLUME /data\nSHELL [\"/bin/ash\",\"-c\"]\n",
            ["FROM", "LABEL", "USER", "EXPOSE", "STOPSIGNAL", "VOLUME", "SHELL"]
        ),
        (
            "copy flags and json",
            "FROM scratch\nCOPY --chown=1:2 --chmod=755 [\"a b\", \"/dst/\"]\nADD x.tar.gz /opt/\n",
            ["FROM", "COPY", "ADD"]
        ),
    ]

    @Test(arguments: valid.indices) func validFiles(_ i: Int) throws {
        let c = Self.valid[i]
        let d = try Dockerfile.parse(c.text, file: c.name)
        #expect(d.instructions.map(\.keyword) == c.keywords, "\(c.name)")
    }

    @Test func formsAndArguments() throws {
        let d = try Dockerfile.parse(
            """
            FROM scratch AS Base
            RUN echo "a b" \\
                && echo c
            CMD ["/bin/x", "-v"]
            ENTRYPOINT /bin/x --flag
            COPY --chown=nobody src1 src2 /dst/
            ENV A=1 B="two words" C=x\\ y
            ARG N=5
            """, file: "f")
        let k = d.instructions.map(\.kind)
        #expect(k[0] == .from(image: "scratch", alias: "base"))
        #expect(k[1] == .run(.shell("echo \"a b\"     && echo c")))
        #expect(d.instructions[1].line == 2 && d.instructions[2].line == 4)
        #expect(k[2] == .cmd(.exec(["/bin/x", "-v"])))
        #expect(k[3] == .entrypoint(.shell("/bin/x --flag")))
        #expect(k[4] == .copy(CopySpec(sources: ["src1", "src2"], destination: "/dst/", chown: "nobody", chmod: nil)))
        guard case .env(let pairs) = k[5] else {
            Issue.record("not ENV")
            return
        }
        let expanded = try pairs.map { try WordExpansion(variables: [:]).expand($0.value) }
        #expect(pairs.map(\.key) == ["A", "B", "C"])
        #expect(expanded == ["1", "two words", "x y"])
        #expect(k[6] == .arg(name: "N", defaultValue: "5"))
    }

    @Test func expansion() throws {
        let x = WordExpansion(variables: ["A": "1", "EMPTY": "", "P": "/opt"])
        #expect(try x.expand("$A-${A}-${MISSING:-def}-${A:+alt}-${EMPTY:-e}-${MISSING:+no}") == "1-1-def-alt-e-")
        #expect(try x.expand("'$A' \"$A\" \\$A ${P}/bin") == "$A 1 $A /opt/bin")
        #expect(throws: WordExpansion.Failure.self) { try x.expand("${A") }
    }

    /// Broken files: each error must name the file, the line and the instruction.
    static let broken: [(text: String, line: Int, instruction: String, contains: String)] = [
        ("", 1, "FROM", "no FROM instruction"),
        ("# only a comment\n", 1, "FROM", "no FROM"),
        ("RUN echo hi\nFROM scratch\n", 1, "RUN", "before the first FROM"),
        ("FROM scratch\nFROB x\n", 2, "FROB", "unknown instruction"),
        ("FROM scratch\n\nCOPY onlyone\n", 3, "COPY", "at least one source"),
        ("FROM scratch\nCOPY --from= /a /b\n", 2, "COPY", "--from"),
        ("FROM scratch\nRUN <<EOF\necho hi\nEOF\n", 2, "RUN", "heredocs"),
        ("FROM scratch\nCOPY <<EOF /x\nhi\nEOF\n", 2, "COPY", "heredocs"),
        ("FROM scratch\nADD https://example.com/x.tgz /x\n", 2, "ADD", "remote source"),
        ("FROM scratch\nCOPY --bogus=1 a b\n", 2, "COPY", "unknown flag --bogus"),
        ("FROM scratch\nRUN\n", 2, "RUN", "requires a command"),
        ("FROM scratch\nRUN --mount=type=cache,target=/x true\n", 2, "RUN", "not supported"),
        ("FROM scratch\nENV\n", 2, "ENV", "KEY=VALUE"),
        ("FROM scratch\nENV ONLYKEY\n", 2, "ENV", "has no value"),
        ("FROM scratch\nLABEL novalue\n", 2, "LABEL", "not KEY=VALUE"),
        ("FROM scratch\nARG 9bad=1\n", 2, "ARG", "invalid argument name"),
        ("FROM scratch\nEXPOSE 80/xyz\n", 2, "EXPOSE", "invalid port"),
        ("FROM scratch\nEXPOSE 0\n", 2, "EXPOSE", "invalid port"),
        ("FROM scratch AS\n", 1, "FROM", "FROM image [AS name]"),
        ("FROM a b c d\n", 1, "FROM", "FROM image [AS name]"),
        ("FROM --platform=linux/amd64 --weird=1 scratch\n", 1, "FROM", "unknown flag --weird"),
        ("FROM scratch\nRUN a \\\n  b \\\n  c\nWORKDIR\n", 5, "WORKDIR", "requires a path"),
        ("FROM scratch\nUSER a b\n", 2, "USER", "exactly one"),
        ("FROM scratch\nHEALTHCHECK CMD true\n", 2, "HEALTHCHECK", "not supported"),
        ("FROM scratch\nSHELL /bin/sh -c\n", 2, "SHELL", "JSON array"),
        ("FROM scratch\nCOPY --chmod=999 a b\n", 2, "COPY", "octal"),
        ("# escape=x\nFROM scratch\n", 1, "(directive)", "invalid escape"),
        ("FROM scratch\nCMD [1, 2]\n", 2, "CMD", "array of strings"),
    ]

    @Test(arguments: broken.indices) func brokenFiles(_ i: Int) {
        let c = Self.broken[i]
        let file = "broken\(i)/Dockerfile"
        do {
            _ = try Dockerfile.parse(c.text, file: file)
            Issue.record("case \(i) parsed: \(c.text)")
        } catch let e as DockerfileError {
            #expect(e.file == file)
            #expect(e.line == c.line, "case \(i): \(e)")
            #expect(e.instruction == c.instruction, "case \(i): \(e)")
            #expect(e.message.contains(c.contains), "case \(i): \(e)")
            #expect(e.description == "\(file):\(c.line):\(" ")\(c.instruction): \(e.message)")
        } catch {
            Issue.record("case \(i): unexpected \(error)")
        }
    }

    @Test func buildTimeErrorsCarryTheLine() throws {
        let dir = TempDir("builderr")
        defer { dir.cleanup() }
        let store = try makeStore(dir)
        dir.write("ctx/Dockerfile", "FROM scratch\nENV A=1\nCOPY missing.txt /x\n")
        #expect {
            try ImageBuilder(store: store).build(BuildOptions(context: dir.path + "/ctx"))
        } throws: { e in
            (e as? DockerfileError).map { $0.line == 3 && $0.instruction == "COPY" && $0.message.contains("not found") }
                ?? false
        }
        dir.write("ctx/Dockerfile", "FROM scratch\nCOPY ../outside /x\n")
        #expect {
            try ImageBuilder(store: store).build(BuildOptions(context: dir.path + "/ctx"))
        } throws: { e in (e as? DockerfileError)?.message.contains("outside the build context") ?? false }
        dir.write("ctx/Dockerfile", "FROM no/such-image\n")
        #expect {
            try ImageBuilder(store: store).build(BuildOptions(context: dir.path + "/ctx"))
        } throws: { e in
            (e as? DockerfileError).map { $0.line == 1 && $0.message.contains("not in the store") } ?? false
        }
    }

    @Test func dockerignore() {
        let ig = DockerIgnore(text: "# comment\n*.log\nbuild/\n**/*.tmp\n!keep.log\ndocs/*/draft.md\n")
        #expect(ig.isExcluded("a.log"))
        #expect(!ig.isExcluded("keep.log"))
        #expect(ig.isExcluded("build/x/y.o"))
        #expect(ig.isExcluded("deep/er/file.tmp"))
        #expect(ig.isExcluded("docs/v1/draft.md"))
        #expect(!ig.isExcluded("docs/draft.md"))
        #expect(!ig.isExcluded("src/main.c"))
        #expect(!ig.isExcluded("sub/a.log"))  // `*` does not cross directories
    }
}
