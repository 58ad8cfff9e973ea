@testable import ForwarderIO
import Foundation
import Testing

/// The uploader's own HTTP/1.1 reply reader, fed bytes as a socket would deliver them.
@Suite("HTTP reply reader")
struct HTTPReplyReaderTests {
    static let json = #"{"count":1,"results":[{"filename":"N844L20G.630H","status":"ok","inserted":1}]}"#

    /// Feeds `pieces` in order, then (when `close`) the connection's end; the reply or the error.
    static func read(_ pieces: [[UInt8]], close: Bool = false, bodyByteLimit: Int = 1 << 20)
        -> Result<HTTPReplyReader.Reply, any Error> {
        var reader = HTTPReplyReader(bodyByteLimit: bodyByteLimit)
        do {
            for piece in pieces {
                if let reply = try piece.withUnsafeBytes({ try reader.read($0) }), !close { return .success(reply) }
            }
            if close { return .success(try reader.readEnd()) }
            return .failure(Unfinished())
        } catch {
            return .failure(error)
        }
    }

    struct Unfinished: Error {}

    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test("Reply reader: a reply split at every byte, or into single bytes, reads the same as in one piece")
    func splitReads() throws {
        let text = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nretry-after:  7 \r\n"
            + "Retry-After: 99\r\nContent-Length: \(Self.json.utf8.count)\r\n\r\n\(Self.json)"
        let whole = Self.bytes(text)
        let expected = try Self.read([whole]).get()
        #expect(expected.status == 503)
        #expect(expected.retryAfter == "7")
        #expect(expected.body == Self.bytes(Self.json))
        #expect(expected.keepAlive)
        for cut in 1..<whole.count {
            let reply = try Self.read([Array(whole[..<cut]), Array(whole[cut...])]).get()
            #expect(reply.status == 503 && reply.retryAfter == "7" && reply.body == expected.body && reply.keepAlive,
                    "cut at \(cut)")
        }
        let byByte = try Self.read(whole.map { [$0] }).get()
        #expect(byByte.body == expected.body && byByte.retryAfter == "7")
    }

    @Test("Reply reader: a chunked body is joined from its chunks, extensions and trailers skipped, split anywhere")
    func chunked() throws {
        let text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5\r\n{\"cou\r\n" + "A;name=value\r\nnt\":1,\"res\r\n" + "0\r\nX-Trailer: yes\r\n\r\n"
        let whole = Self.bytes(text)
        for cut in 1..<whole.count {
            let reply = try Self.read([Array(whole[..<cut]), Array(whole[cut...])]).get()
            #expect(reply.body == Self.bytes(#"{"count":1,"res"#), "cut at \(cut)")
            #expect(reply.keepAlive)
        }
        let uppercaseHex = try Self.read([Self.bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "B\r\nhello world\r\n0\r\n\r\n")]).get()
        #expect(uppercaseHex.body == Self.bytes("hello world"))
    }

    @Test("Reply reader: Connection: close and HTTP/1.0 end the connection; HTTP/1.0 keep-alive keeps it")
    func connectionClose() throws {
        let closing = try Self.read([Self.bytes("HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 2\r\n\r\n{}")]).get()
        #expect(!closing.keepAlive)
        let listed = try Self.read([Self.bytes("HTTP/1.1 200 OK\r\nConnection: upgrade, close\r\nContent-Length: 0\r\n\r\n")]).get()
        #expect(!listed.keepAlive)
        let old = try Self.read([Self.bytes("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}")]).get()
        #expect(!old.keepAlive)
        let oldKept = try Self.read([Self.bytes("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n{}")]).get()
        #expect(oldKept.keepAlive)
        let trailing = try Self.read([Self.bytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1")]).get()
        #expect(!trailing.keepAlive, "bytes after the reply: the connection cannot be reused")
    }

    @Test("Reply reader: without a length the body runs to the close, and the connection is not kept")
    func bodyUntilClose() throws {
        let pieces = [Self.bytes("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html>"), Self.bytes("</html>")]
        if case .success = Self.read(pieces) { Issue.record("a body without a length cannot end before the close") }
        let reply = try Self.read(pieces, close: true).get()
        #expect(reply.body == Self.bytes("<html></html>"))
        #expect(!reply.keepAlive)
    }

    @Test("Reply reader: interim 1xx replies are skipped, and 204 has no body")
    func interimAndNoContent() throws {
        let reply = try Self.read([Self.bytes("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 429 Too Many Requests\r\n"
            + "Retry-After: 30\r\nContent-Length: 0\r\n\r\n")]).get()
        #expect(reply.status == 429 && reply.retryAfter == "30" && reply.body.isEmpty)
        let empty = try Self.read([Self.bytes("HTTP/1.1 204 No Content\r\n\r\n")]).get()
        #expect(empty.status == 204 && empty.keepAlive)
    }

    @Test("Reply reader: garbage, a bad chunk, a bad length or a bad header line is an error, not a reply",
          arguments: [
              "\u{7}\u{1}random bytes that are no HTTP at all\r\n\r\n",
              "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nZZ-not-hex\r\n{\"count\":\r\n",
              "HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\n",
              "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
              "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
              "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
              "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n",
              "HTTP/2 200\r\n\r\n",
              "HTTP/1.1 2x0 OK\r\n\r\n",
          ])
    func garbage(text: String) {
        guard case .failure(let error) = Self.read([Self.bytes(text)]) else {
            Issue.record("read as a reply: \(text.debugDescription)")
            return
        }
        #expect(error is HTTPReplyReader.Malformed, "\(error)")
    }

    @Test("Reply reader: a connection closed before the reply ends is an error, whatever was read")
    func closedEarly() {
        let cases = ["", "HTTP/1.1 200 OK\r\nContent-Le", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}",
                     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n"]
        for text in cases {
            guard case .failure(let error) = Self.read([Self.bytes(text)], close: true) else {
                Issue.record("read as a reply: \(text.debugDescription)")
                continue
            }
            #expect(error is HTTPReplyReader.ClosedEarly, "\(text.debugDescription): \(error)")
        }
    }

    @Test("Reply reader: a body longer than the limit is refused, by its length, its chunks or its close")
    func tooLarge() {
        let cases: [(String, Bool)] = [
            ("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", false),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n5\r\nghijk\r\n0\r\n\r\n", false),
            ("HTTP/1.1 200 OK\r\n\r\nabcdefghijk", true),
        ]
        for (text, close) in cases {
            guard case .failure(let error) = Self.read([Self.bytes(text)], close: close, bodyByteLimit: 10) else {
                Issue.record("read as a reply: \(text.debugDescription)")
                continue
            }
            #expect(error is HTTPReplyReader.TooLarge, "\(text.debugDescription): \(error)")
        }
        let atLimit = Self.read([Self.bytes("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabcdefghij")], bodyByteLimit: 10)
        #expect((try? atLimit.get())?.body.count == 10)
    }
}
