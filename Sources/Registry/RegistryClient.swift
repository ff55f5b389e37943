import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// Username and password for Basic auth, and for the token endpoint of the Bearer flow.
public struct RegistryCredentials: Sendable, Equatable {
    public var username: String
    public var password: String

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    /// `user:pass` as given to `--creds` (the password may contain colons).
    public init?(parsing text: String) {
        guard let colon = text.firstIndex(of: ":"), colon != text.startIndex else { return nil }
        self.init(username: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
    }

    var basicHeader: String {
        "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
    }
}

public struct RegistryClientOptions: Sendable {
    /// Like skopeo's `--tls-verify`. When false: HTTPS without certificate checks is tried first, then
    /// plain HTTP (skopeo's behaviour for an insecure registry). When true: HTTPS with verification only.
    public var tlsVerify: Bool
    public var credentials: RegistryCredentials?
    public var userAgent: String
    public var connectTimeout: TimeAmount
    /// Longest time without a byte read from a response.
    public var readTimeout: TimeAmount
    /// Deadline of one whole request (a large blob must fit in it).
    public var requestTimeout: TimeAmount

    public init(
        tlsVerify: Bool = true, credentials: RegistryCredentials? = nil, userAgent: String = "boxbench-registry",
        connectTimeout: TimeAmount = .seconds(30), readTimeout: TimeAmount = .seconds(120),
        requestTimeout: TimeAmount = .hours(2)
    ) {
        self.tlsVerify = tlsVerify
        self.credentials = credentials
        self.userAgent = userAgent
        self.connectTimeout = connectTimeout
        self.readTimeout = readTimeout
        self.requestTimeout = requestTimeout
    }
}

/// A client of the OCI distribution API. Call `shutdown()` when done, or use `withClient`.
public actor RegistryClient {
    let http: HTTPClient
    public let options: RegistryClientOptions

    struct Endpoint: Sendable {
        /// `https://host[:port]` or `http://host[:port]`.
        var base: String
        var tlsConfiguration: TLSConfiguration?
        /// The challenge `GET /v2/` answered with, if any.
        var challenge: AuthChallenge?
    }

    private var endpoints: [String: Endpoint] = [:]
    private var tokens: [String: String] = [:]

    public init(options: RegistryClientOptions = RegistryClientOptions()) {
        self.options = options
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .follow(max: 10, allowCycles: false),
            timeout: .init(connect: options.connectTimeout, read: options.readTimeout),
            proxy: nil,
            decompression: .disabled)
        configuration.httpVersion = .automatic
        // Fail a connection at once instead of retrying it until the timeout: the insecure probe of
        // HTTPS before plain HTTP (and a wrong --tls-verify) must not stall for the whole connect timeout.
        configuration.connectionPool.retryConnectionEstablishment = false
        self.http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    public func shutdown() async throws {
        try await http.shutdown()
    }

    /// Runs `body` with a client and shuts it down on every path.
    @discardableResult
    public static func withClient<T: Sendable>(
        options: RegistryClientOptions = RegistryClientOptions(),
        _ body: (RegistryClient) async throws -> T
    ) async throws -> T {
        let client = RegistryClient(options: options)
        do {
            let result = try await body(client)
            try await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    // MARK: Endpoint discovery

    /// Finds the scheme and the auth challenge of `registry` with `GET /v2/` (cached per registry).
    func endpoint(for registry: String) async throws -> Endpoint {
        if let known = endpoints[registry] { return known }
        var candidates: [(String, TLSConfiguration?)] = []
        if options.tlsVerify {
            candidates.append(("https://\(registry)", nil))
        } else {
            var insecure = TLSConfiguration.makeClientConfiguration()
            insecure.certificateVerification = .none
            candidates.append(("https://\(registry)", insecure))
            candidates.append(("http://\(registry)", nil))
        }
        var failures: [String] = []
        for (base, tls) in candidates {
            var request = HTTPClientRequest(url: base + "/v2/")
            request.headers.add(name: "User-Agent", value: options.userAgent)
            request.tlsConfiguration = tls
            let response: HTTPClientResponse
            do {
                response = try await http.execute(request, timeout: options.connectTimeout + options.readTimeout)
            } catch {
                failures.append("\(base)/v2/: \(error)")
                continue
            }
            let status = Int(response.status.code)
            let body = await Self.collect(response.body, limit: 64 * 1024)
            var endpoint = Endpoint(base: base, tlsConfiguration: tls, challenge: nil)
            switch status {
            case 200..<300:
                break
            case 401:
                endpoint.challenge = Self.preferredChallenge(response.headers)
            default:
                throw RegistryError.http(
                    operation: "registry check", method: "GET", url: base + "/v2/", status: status,
                    details: RegistryErrorDetail.parse(body), body: String(decoding: body, as: UTF8.self))
            }
            endpoints[registry] = endpoint
            return endpoint
        }
        throw RegistryError.transport(
            operation: "registry check", method: "GET", url: "\(candidates.first?.0 ?? registry)/v2/",
            underlying: failures.joined(separator: "; ")
                + (options.tlsVerify ? " (for a plain-HTTP registry pass tlsVerify: false / --tls-verify=false)" : ""))
    }

    static func preferredChallenge(_ headers: HTTPHeaders) -> AuthChallenge? {
        let challenges = headers["WWW-Authenticate"].flatMap { AuthChallenge.parse($0) }
        return challenges.first { $0.scheme == "bearer" } ?? challenges.first { $0.scheme == "basic" }
    }

    // MARK: Auth

    private func authorization(
        registry: String, challenge: AuthChallenge?, scopes: [String], refresh: Bool
    ) async throws -> String? {
        guard let challenge else { return nil }
        switch challenge.scheme {
        case "basic":
            return options.credentials?.basicHeader
        case "bearer":
            let allScopes = Array(Set(scopes + challenge.scopes)).sorted()
            let key = registry + " " + allScopes.joined(separator: " ")
            if !refresh, let token = tokens[key] { return "Bearer \(token)" }
            let token = try await fetchToken(challenge: challenge, scopes: allScopes)
            tokens[key] = token
            return "Bearer \(token)"
        default:
            return nil
        }
    }

    struct TokenResponse: Decodable {
        var token: String?
        var access_token: String?
    }

    /// The distribution token flow: `GET realm?service=…&scope=…` with Basic creds when given.
    private func fetchToken(challenge: AuthChallenge, scopes: [String]) async throws -> String {
        guard let realm = challenge.realm, var components = URLComponents(string: realm),
            let scheme = components.scheme?.lowercased(), scheme == "https" || scheme == "http"
        else {
            throw RegistryError.token(
                realm: challenge.realm ?? "(none)", status: nil, reason: "the Bearer challenge has no usable realm URL")
        }
        var items = components.queryItems ?? []
        if let service = challenge.service { items.append(URLQueryItem(name: "service", value: service)) }
        for scope in scopes { items.append(URLQueryItem(name: "scope", value: scope)) }
        if let credentials = options.credentials {
            items.append(URLQueryItem(name: "account", value: credentials.username))
        }
        components.queryItems = items
        guard let url = components.string else {
            throw RegistryError.token(realm: realm, status: nil, reason: "cannot build the token URL")
        }
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "User-Agent", value: options.userAgent)
        if let credentials = options.credentials {
            request.headers.add(name: "Authorization", value: credentials.basicHeader)
        }
        if !options.tlsVerify {
            var insecure = TLSConfiguration.makeClientConfiguration()
            insecure.certificateVerification = .none
            request.tlsConfiguration = insecure
        }
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: options.connectTimeout + options.readTimeout)
        } catch {
            throw RegistryError.token(realm: realm, status: nil, reason: "\(error)")
        }
        let body = await Self.collect(response.body, limit: 1 << 20)
        guard response.status.code == 200 else {
            let details = RegistryErrorDetail.parse(body)
            let reason =
                details.isEmpty
                ? String(decoding: body.prefix(300), as: UTF8.self)
                : details.map { "\($0.code): \($0.message ?? "")" }.joined(separator: "; ")
            throw RegistryError.token(realm: realm, status: Int(response.status.code), reason: reason)
        }
        guard let decoded = try? JSONDecoder().decode(TokenResponse.self, from: Data(body)),
            let token = decoded.token ?? decoded.access_token, !token.isEmpty
        else {
            throw RegistryError.token(realm: realm, status: 200, reason: "the response has no token")
        }
        return token
    }

    // MARK: Requests

    /// Sends one request to `registry` with the auth it needs; on a 401 it answers the new challenge
    /// (token for the union of scopes, or Basic) and retries once. Returns the response as it is:
    /// callers check the status (a second 401 comes back to them).
    func send(
        operation: String, registry: String, scopes: [String], method: HTTPMethod, url: String,
        headers: HTTPHeaders = [:], body: HTTPClientRequest.Body? = nil
    ) async throws -> HTTPClientResponse {
        let endpoint = try await endpoint(for: registry)
        var auth = try await authorization(
            registry: registry, challenge: endpoint.challenge, scopes: scopes, refresh: false)
        var attempt = 0
        while true {
            attempt += 1
            var request = HTTPClientRequest(url: url)
            request.method = method
            request.headers = headers
            request.headers.replaceOrAdd(name: "User-Agent", value: options.userAgent)
            if let auth, Self.sameOrigin(url, endpoint.base) {
                request.headers.replaceOrAdd(name: "Authorization", value: auth)
            }
            request.body = body
            request.tlsConfiguration = endpoint.tlsConfiguration
            let response: HTTPClientResponse
            do {
                response = try await http.execute(request, timeout: options.requestTimeout)
            } catch {
                throw RegistryError.transport(
                    operation: operation, method: method.rawValue, url: url, underlying: "\(error)")
            }
            guard response.status == .unauthorized, attempt == 1,
                let fresh = Self.preferredChallenge(response.headers)
            else { return response }
            let retryAuth: String?
            switch fresh.scheme {
            case "bearer":
                retryAuth = try await authorization(registry: registry, challenge: fresh, scopes: scopes, refresh: true)
            case "basic":
                retryAuth = options.credentials?.basicHeader
            default:
                retryAuth = nil
            }
            // Nothing new to send (no creds, or the same Basic creds were refused): the 401 goes to the caller.
            guard let retryAuth, fresh.scheme == "bearer" || retryAuth != auth else { return response }
            _ = await Self.collect(response.body, limit: 64 * 1024)
            endpoints[registry]?.challenge = fresh
            auth = retryAuth
        }
    }

    /// An error for an unexpected response, with the registry's error JSON.
    func failure(_ response: HTTPClientResponse, operation: String, method: HTTPMethod, url: String) async
        -> RegistryError
    {
        let body = await Self.collect(response.body, limit: 64 * 1024)
        return .http(
            operation: operation, method: method.rawValue, url: url, status: Int(response.status.code),
            details: RegistryErrorDetail.parse(body), body: String(decoding: body, as: UTF8.self))
    }

    /// Reads at most `limit` bytes of a body (the rest is dropped), never throwing.
    static func collect(_ body: HTTPClientResponse.Body, limit: Int) async -> [UInt8] {
        var out: [UInt8] = []
        do {
            for try await buffer in body {
                if out.count < limit { out.append(contentsOf: buffer.readableBytesView.prefix(limit - out.count)) }
            }
        } catch {}
        return out
    }

    static func sameOrigin(_ a: String, _ b: String) -> Bool {
        guard let x = URLComponents(string: a), let y = URLComponents(string: b) else { return false }
        return x.scheme?.lowercased() == y.scheme?.lowercased() && x.host?.lowercased() == y.host?.lowercased()
            && x.port == y.port
    }

    func baseURL(_ registry: String) async throws -> String {
        try await endpoint(for: registry).base
    }
}
