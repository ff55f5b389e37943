import Foundation

/// A VM's data volume: a blank ext4 file system in a sparse raw file, every inode table and the journal written
/// up front, so the kernel's lazy initialisation does not write behind the benchmark's back.
public enum DataDisk {
    public static func create(at path: String, sizeBytes: Int64) throws(MachineError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .system(operation: "create data disk \(path)", errno: errno) }
        let sized = ftruncate(fd, off_t(sizeBytes)) == 0
        let e = errno
        close(fd)
        guard sized else {
            unlink(path)
            throw .system(operation: "size data disk \(path) to \(sizeBytes) bytes", errno: e)
        }
        do {
            try HostTool.run([
                "mke2fs", "-q", "-F", "-t", "ext4", "-m", "0", "-L", "boxbench-data", "-E",
                "lazy_itable_init=0,lazy_journal_init=0,root_owner=0:0", path,
            ])
        } catch {
            unlink(path)
            throw error
        }
    }
}
