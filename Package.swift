// swift-tools-version: 6.1
import PackageDescription

/// Release executables are linked at a fixed address (not PIE): a PIE boxbench-runtime applied 75 000 relative
/// relocations at every start, each page of them a copy-on-write fault (with the freezer skip of the same change, a
/// `run` went from 10.7 to 8.2 ms in one hyperfine comparison; the two were not measured apart). Shared libraries,
/// stack, heap and mmap stay randomized. And without exporting
/// every symbol: the Swift runtime's backtracer calls dladdr() at start-up, which scans the dynamic symbol table
/// (52 601 entries in boxbench: 1.8 M instructions).
let fixedAddressRelease: [LinkerSetting] = [
    .unsafeFlags(["-Xlinker", "-no-pie", "-Xlinker", "--no-export-dynamic"], .when(configuration: .release))
]

/// The release boxbench-runtime is one static executable: no dynamic loader, no libstdc++/libgcc_s/libseccomp
/// to map and relocate at each start (a create+start+delete cycle 19.8 → 14.6 ms in one hyperfine comparison of the
/// two builds; per `run` 8.6 → 6.6 ms of CPU in results/runtime-breakdown.txt). Linked by lld, which resolves archives in any order (so a plain `swift build -c
/// release` links too, given Foundation's static archives by name) and does not repeat glibc's link-time notes that
/// NSS and dlopen need glibc's shared libraries at run time: the runtime calls neither (ids are numeric, as in the
/// OCI spec; no plugins). With -no-pie above, the runtime's whole image sits at a fixed address (stack, heap and mmap
/// stay randomized). Debug builds, which the tests use, stay dynamic.
let staticRelease: [LinkerSetting] = [
    .unsafeFlags(
        [
            "-static-executable", "-use-ld=lld",
            "-l_FoundationICU", "-lCoreFoundation", "-l_FoundationCShims", "-l_FoundationCollections",
        ], .when(configuration: .release))
]

let package = Package(
    name: "boxbench",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "boxbench", targets: ["boxbench"]),
        .executable(name: "boxbench-runtime", targets: ["boxbench-runtime"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    ],
    targets: [
        // Everything between clone and exec, plus raw syscalls Glibc does not expose.
        .target(name: "CShim", linkerSettings: [.linkedLibrary("seccomp")]),
        // libvirt's headers (libvirt-dev) with the library dlopen()ed on first use: see include/CLibvirt.h.
        .target(name: "CLibvirt"),
        .systemLibrary(
            name: "CSeccomp", pkgConfig: "libseccomp",
            providers: [.apt(["libseccomp-dev"])]),
        // libarchive's headers (libarchive-dev) with the library dlopen()ed on first use: see include/CArchive.h.
        .target(name: "CArchive"),
        .target(name: "Probes", dependencies: ["CShim"]),
        // The argument forms of the commands timed as whole commands, read without ArgumentParser's reflection.
        .target(name: "LeanArguments"),
        // simdjson (C++) behind a C header, so Swift needs no C++ interop; Results reads JSON through it.
        // The define matches simdjson.pc's Cflags (it changes the parser's layout).
        .target(
            name: "CSimdJSON",
            cxxSettings: [.define("SIMDJSON_THREADS_ENABLED", to: "1")],
            linkerSettings: [.linkedLibrary("simdjson")]),
        .target(name: "Results", dependencies: ["CSimdJSON"]),
        // config.json and state.json: yajl's event parser (libyajl-dev, as in crun) into a flat tape, linked from
        // yajl's static archive so the runtime loads no JSON library and no C++ runtime at start.
        .target(name: "CSpecJSON", linkerSettings: [.linkedLibrary("yajl_s")]),
        .target(name: "Stats"),
        .target(name: "Reports", dependencies: ["Results", "Stats"]),
        // The OCI distribution API: images pushed from and pulled into an OCI layout (the image store).
        .target(
            name: "Registry",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]),
        // Every run kept per host in SQLite; trends, change points and the CI gate.
        .target(
            name: "History",
            dependencies: [
                "Results", "Stats", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .target(
            name: "Containers",
            dependencies: [
                "CShim", "CSeccomp", "CSpecJSON", "Probes",
                .product(name: "Logging", package: "swift-log"),
            ]),
        // The bench network: pinned network namespaces and CNI plugins called per the spec.
        .target(name: "Networks", dependencies: ["CShim", "Probes", "Containers"]),
        .target(
            name: "Images",
            dependencies: [
                "CArchive", "CShim",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .target(
            name: "Machines",
            dependencies: [
                "CLibvirt", "CShim", "Probes", "Containers",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .target(
            name: "Suites",
            dependencies: [
                "Probes", "Results", "Stats", "Containers", "Images", "Machines", "Networks", "Registry",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .target(
            name: "Doctor",
            dependencies: ["CShim", "CSeccomp", "Probes", "Containers", "Machines", "Networks"]),
        .executableTarget(
            name: "boxbench",
            dependencies: [
                "Probes", "Results", "Stats", "Reports", "History", "Containers", "Images", "Machines", "Suites",
                "Doctor", "Registry",
                "LeanArguments", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            linkerSettings: fixedAddressRelease),
        // The OCI runtime command line (runc's surface); links only the container runtime, for a lean start.
        .executableTarget(
            name: "boxbench-runtime",
            dependencies: [
                "Containers", "LeanArguments", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            linkerSettings: fixedAddressRelease + staticRelease),
        .testTarget(name: "ProbesTests", dependencies: ["Probes"]),
        .testTarget(
            name: "CLITests",
            dependencies: [
                "boxbench", "boxbench-runtime", "LeanArguments",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .testTarget(name: "DoctorTests", dependencies: ["Doctor"]),
        .testTarget(name: "ContainersTests", dependencies: ["Containers", "CShim"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ImagesTests", dependencies: ["Images"]),
        .testTarget(name: "ExploitsTests", dependencies: ["Containers", "Images", "Suites", "Probes", "CShim"]),
        .testTarget(name: "MachinesTests", dependencies: ["Machines", "CLibvirt"]),
        .testTarget(
            name: "SuitesTests",
            dependencies: ["Suites", "Containers", "Probes", "Results", "Machines", "Networks", "Reports"]),
        .testTarget(name: "StatsTests", dependencies: ["Stats"]),
        .testTarget(
            name: "RegistryTests", dependencies: ["Registry", .product(name: "NIOHTTP1", package: "swift-nio")]),
        .testTarget(name: "NetworksTests", dependencies: ["Networks", "Containers", "Probes"]),
        .testTarget(name: "ReportsTests", dependencies: ["Reports", "Results"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ResultsTests", dependencies: ["Results"]),
        .testTarget(
            name: "HistoryTests",
            dependencies: [
                "boxbench", "boxbench-runtime", "History", "Results", "Stats",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]),
        .testTarget(
            name: "ReliabilityTests",
            dependencies: [
                "Images", "Suites", "Containers", "Machines", "Results",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            resources: [.copy("Fixtures")]),
    ],
    swiftLanguageModes: [.v6],
    cxxLanguageStandard: .cxx17
)
