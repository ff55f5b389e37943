import Foundation

/// Upload URLs from `Location` headers.
public enum UploadLocation {
    /// Resolves a `Location` header against the URL of the request that returned it: absolute URLs are
    /// kept, `/v2/…` and relative paths are resolved (RFC 3986), query strings are kept as they are.
    public static func resolve(_ location: String, against requestURL: String) throws(RegistryError) -> String {
        let trimmed = location.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else {
            throw .invalidResponse(operation: "blob upload", url: requestURL, reason: "empty Location header")
        }
        if let absolute = URLComponents(string: trimmed), let scheme = absolute.scheme?.lowercased() {
            guard scheme == "http" || scheme == "https", absolute.host?.isEmpty == false else {
                throw .invalidResponse(
                    operation: "blob upload", url: requestURL, reason: "unusable Location '\(location)'")
            }
            return trimmed
        }
        guard let base = URL(string: requestURL), let resolved = URL(string: trimmed, relativeTo: base)?.absoluteURL
        else {
            throw .invalidResponse(operation: "blob upload", url: requestURL, reason: "unusable Location '\(location)'")
        }
        return resolved.absoluteString
    }

    /// Appends `name=value` to a URL's query (`?` or `&`), percent-encoding the value; a fragment is dropped.
    public static func appendingQuery(_ url: String, name: String, value: String) -> String {
        var base = url
        if let hash = base.firstIndex(of: "#") { base = String(base[..<hash]) }
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let encoded = value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
        let separator: String
        if let question = base.firstIndex(of: "?") {
            separator = base.index(after: question) == base.endIndex || base.hasSuffix("&") ? "" : "&"
        } else {
            separator = "?"
        }
        return base + separator + name + "=" + encoded
    }
}
