import Crypto
import Foundation

/// sha256 digests in the `sha256:<64 lowercase hex>` form used by OCI.
public enum Digests {
    public static func isValid(_ digest: String) -> Bool {
        hex(of: digest) != nil
    }

    /// The hex part of a valid `sha256:` digest, or nil. The check keeps digests from naming other paths.
    public static func hex(of digest: String) -> String? {
        guard digest.hasPrefix("sha256:") else { return nil }
        let hex = digest.dropFirst("sha256:".count)
        guard hex.utf8.count == 64,
            hex.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) })
        else { return nil }
        return String(hex)
    }

    public static func sha256<Bytes: DataProtocol>(_ bytes: Bytes) -> String {
        format(SHA256.hash(data: bytes))
    }

    static func format(_ digest: SHA256.Digest) -> String {
        let table = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for byte in digest {
            out.append(table[Int(byte >> 4)])
            out.append(table[Int(byte & 0x0f)])
        }
        return "sha256:" + String(decoding: out, as: UTF8.self)
    }
}
