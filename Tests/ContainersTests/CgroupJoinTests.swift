import Testing

@testable import Containers
@testable import Probes

/// Which files a new process writes and which group it is cloned into, per layout: a pid written into any
/// cgroup.procs takes the kernel's global threadgroup lock (7–15 ms here), so no layout may rely on it.
struct CgroupJoinTests {
    let v1 = CgroupHierarchy(mountPoint: "/sys/fs/cgroup/memory", version: 1, controllers: ["memory"])
    let cpu = CgroupHierarchy(mountPoint: "/sys/fs/cgroup/cpu,cpuacct", version: 1, controllers: ["cpu", "cpuacct"])
    let pids = CgroupHierarchy(mountPoint: "/sys/fs/cgroup/pids", version: 1, controllers: ["pids"])
    let freezer = CgroupHierarchy(mountPoint: "/sys/fs/cgroup/freezer", version: 1, controllers: ["freezer"])
    let devices = CgroupHierarchy(mountPoint: "/sys/fs/cgroup/devices", version: 1, controllers: ["devices"])
    let unified = CgroupHierarchy(mountPoint: "/sys/fs/cgroup/unified", version: 2, controllers: ["hugetlb"])

    @Test func hybridSelfJoinsV1TasksAndClonesIntoTheUnifiedGroup() {
        let layout = CgroupLayout(mode: .hybrid, hierarchies: [v1, cpu, pids, freezer, devices, unified])
        let join = makeCgroupManager(name: "boxbench/c1", layout: layout).join
        #expect(
            join.selfJoin == [
                "/sys/fs/cgroup/memory/boxbench/c1/tasks", "/sys/fs/cgroup/cpu,cpuacct/boxbench/c1/tasks",
                "/sys/fs/cgroup/pids/boxbench/c1/tasks", "/sys/fs/cgroup/devices/boxbench/c1/tasks",
                "/sys/fs/cgroup/freezer/boxbench/c1/tasks",
            ])
        #expect(join.cloneInto == "/sys/fs/cgroup/unified/boxbench/c1")
        #expect(join.selfJoinOnly.last == "/sys/fs/cgroup/unified/boxbench/c1/cgroup.procs")
        #expect(!join.selfJoin.contains { $0.hasSuffix("cgroup.procs") })
    }

    @Test func accountingGroupOnHybridJoinsOnlyItsV1Hierarchies() {
        let layout = CgroupLayout(mode: .hybrid, hierarchies: [v1, cpu, pids, freezer, devices, unified])
        let join = makeCgroupManager(name: "boxbench/n1", layout: layout, accountingOnly: true).join
        #expect(join.selfJoin == ["/sys/fs/cgroup/memory/boxbench/n1/tasks"])
        #expect(join.cloneInto == nil)
        #expect(join.selfJoinOnly == join.selfJoin)
    }

    @Test func pureV2ClonesIntoTheGroup() {
        let layout = CgroupLayout(
            mode: .v2,
            hierarchies: [CgroupHierarchy(mountPoint: "/sys/fs/cgroup", version: 2, controllers: ["memory", "pids"])])
        let join = makeCgroupManager(name: "boxbench/c2", layout: layout).join
        #expect(join.selfJoin.isEmpty)
        #expect(join.cloneInto == "/sys/fs/cgroup/boxbench/c2")
        #expect(join.selfJoinOnly == ["/sys/fs/cgroup/boxbench/c2/cgroup.procs"])
    }
}
