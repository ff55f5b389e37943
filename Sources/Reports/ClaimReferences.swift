/// Published figures from CLAIMS.md, shown as context and never as measurements.
enum ReferencePoints {
    static let byClaim: [String: [String]] = [
        "C1": [
            "Agache et al., Firecracker (NSDI 2020): p50 end-to-end boot 161 ms with Firecracker, 244 ms with QEMU.",
            "Manco et al., LightVM (SOSP 2017): 2.3 ms VM boot vs ~150 ms for `docker run`.",
            "crun README: 100 `/bin/true` containers in 1.69 s (crun) vs 3.34 s (runc).",
        ],
        "C2": [
            "Agache et al., Firecracker (NSDI 2020): VMM memory overhead ≈ 2.5 MB (Firecracker) vs 131 MB (QEMU) for a 256 MiB guest."
        ],
        "C8": [
            "Felter et al., IBM 2014 / ISPASS 2015: TCP request/response latency 37.6 µs native, 67.9 µs under KVM (+81 %); bulk throughput at line rate everywhere."
        ],
        "C9": [
            "Felter et al., IBM 2014 / ISPASS 2015: Redis and MySQL served more slowly under KVM than in Docker; Docker's NAT added latency that its host networking avoided."
        ],
        "C3": [
            "Felter et al., IBM 2014 / ISPASS 2015: Linpack 290.8 GFLOPS native, 290.9 Docker, 284.2 tuned KVM.",
            "Felter et al.: fio 4K random read — Docker ≈ native, KVM ≈ half the IOPS.",
        ],
    ]
}
