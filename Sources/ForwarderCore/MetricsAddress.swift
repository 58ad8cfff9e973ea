/// Where `run` serves `/metrics` and `/health`: a numeric IPv4 or IPv6 address, or `localhost`,
/// and a port.
///
/// Host names other than `localhost` are refused: the server binds exactly this address, and a
/// name that resolves differently tomorrow would expose the endpoints somewhere unplanned.
public struct MetricsAddress: Hashable, Sendable, CustomStringConvertible {
    /// The host without brackets (`127.0.0.1`, `::1`, `localhost`).
    public var host: String
    /// 0 asks the system for a free port (tests); the bound port is logged.
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `HOST:PORT`, with an IPv6 host in brackets.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Parses `HOST:PORT` (`127.0.0.1:9464`, `[::1]:9464`, `localhost:9464`), or nil when the text
    /// is not one.
    public init?(parsing text: String) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":"), Self.isIPv6(host) else { return nil }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            guard Self.isIPv4(host) || host.lowercased() == "localhost" else { return nil }
        }
        guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
              let port = Int(portText), (0...65_535).contains(port) else { return nil }
        self.init(host: host.lowercased() == "localhost" ? "localhost" : String(host), port: port)
    }

    /// Four decimal numbers 0–255 separated by dots, without leading zeros that would read as octal.
    static func isIPv4(_ text: Substring) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { part in
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let value = Int(part), value <= 255 else { return false }
            return part.count == 1 || part.first != "0"
        }
    }

    /// RFC 4291 text: eight groups of 1–4 hex digits, at most one `::`, optionally ending in an
    /// IPv4 address; no zone index.
    static func isIPv6(_ text: Substring) -> Bool {
        var address = String(text)
        var embeddedGroups = 0
        if let lastColon = address.lastIndex(of: ":"), address[address.index(after: lastColon)...].contains(".") {
            guard isIPv4(address[address.index(after: lastColon)...]) else { return false }
            address = String(address[...lastColon])
            if !address.hasSuffix("::") { address.removeLast() }
            embeddedGroups = 2
        }
        let halves = address.components(separatedBy: "::")
        guard halves.count <= 2 else { return false }
        var groups = 0
        for half in halves where !half.isEmpty {
            for group in half.split(separator: ":", omittingEmptySubsequences: false) {
                guard (1...4).contains(group.count), group.allSatisfy({ $0.isASCII && $0.isHexDigit }) else { return false }
                groups += 1
            }
        }
        groups += embeddedGroups
        return halves.count == 2 ? groups <= 7 : groups == 8
    }
}
