import ForwarderCore
import Foundation
import Testing

@Suite("Retry-After")
struct RetryAfterTests {
    /// 2026-05-08T10:00:00Z, a Friday.
    static let now = FileTime(secondsSince1970: 1_778_234_400)
    static let day: Duration = .seconds(86_400)

    @Test("Retry-After: golden headers parse to a delay or a time, junk to nothing", arguments: [
        ("120", RetryAfter.delay(.seconds(120))),
        ("0", .delay(.zero)),
        ("  7\t", .delay(.seconds(7))),
        ("Sun, 06 Nov 1994 08:49:37 GMT", .at(FileTime(secondsSince1970: 784_111_777))),
        ("Sunday, 06-Nov-94 08:49:37 GMT", .at(FileTime(secondsSince1970: 784_111_777 + 3_155_760_000))),
        ("Sun Nov  6 08:49:37 1994", .at(FileTime(secondsSince1970: 784_111_777))),
        ("Fri, 08 May 2026 10:05:00 GMT", .at(FileTime(secondsSince1970: 1_778_234_700))),
        ("Friday, 08-May-26 10:05:00 GMT", .at(FileTime(secondsSince1970: 1_778_234_700))),
        ("Fri May  8 10:05:00 2026", .at(FileTime(secondsSince1970: 1_778_234_700))),
        ("Tue, 29 Feb 2000 00:00:00 GMT", .at(FileTime(secondsSince1970: 951_782_400))),
        ("Thu, 31 Dec 2026 23:59:59 GMT", .at(FileTime(secondsSince1970: 1_798_761_599))),
        // A leap second is allowed by the grammar and lands on the next minute.
        ("Thu, 31 Dec 2026 23:59:60 GMT", .at(FileTime(secondsSince1970: 1_798_761_600))),
        // RFC 9110 does not ask a recipient to check the day name against the date.
        ("Mon, 08 May 2026 10:05:00 GMT", .at(FileTime(secondsSince1970: 1_778_234_700))),
    ] as [(String, RetryAfter)])
    func golden(header: String, expected: RetryAfter) {
        #expect(RetryAfter.parse(header) == expected)
    }

    @Test("Retry-After: junk is ignored", arguments: [
        "", "   ", "-5", "+5", "5.5", "1e3", "12 s", "0x10", "٣", "soon",
        "Sun, 06 Nov 1994 08:49:37 PST", "Sun, 06 Nov 1994 08:49:37 gmt", "Sun, 06 Nov 1994 08:49:37",
        "sun, 06 Nov 1994 08:49:37 GMT", "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 94 08:49:37 GMT", "Sun,06 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994  08:49:37 GMT",
        "Sun, 06 Nov 1994 8:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 06 Nov 1994 08:49:61 GMT", "Sun, 06 Nov 1994 08:49 GMT", "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sun, 31 Nov 1994 08:49:37 GMT", "Thu, 29 Feb 2026 00:00:00 GMT", "Mon, 29 Feb 1900 00:00:00 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT", "Sunday, 06 Nov 1994 08:49:37 GMT", "Sun, 06-Nov-94 08:49:37 GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT", "Sunday, 6-Nov-94 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 UTC",
        "Sun Nov 6 08:49:37 1994", "Sun Nov 06 08:49:37 94", "Sun Nov  6 08:49:37 1994 GMT",
        "Sunday Nov  6 08:49:37 1994", "Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT",
        "120, 30",
    ])
    func junk(header: String) {
        #expect(RetryAfter.parse(header) == nil)
    }

    /// Found by `scripts/fuzz RetryAfter`: the year 3024 overflowed the nanosecond count and
    /// stopped the forwarder.
    @Test("Retry-After: a date beyond what a file time holds (before 1677, after 2262) is ignored, not a crash",
          arguments: ["Thu, 29 Feb 3024 23:59:60 GMT", "Fri, 31 Dec 9999 23:59:59 GMT", "Sat, 01 Jan 0000 00:00:00 GMT",
                      "Fri, 12 Apr 2262 00:00:00 GMT", "Fri Dec 31 23:59:59 9999"])
    func dateBeyondFileTime(header: String) {
        #expect(RetryAfter.parse(header) == nil)
    }

    @Test("Retry-After: the last dates a file time holds still parse")
    func dateAtFileTimeEdge() {
        #expect(RetryAfter.parse("Fri, 11 Apr 2262 23:47:16 GMT") == .at(FileTime(secondsSince1970: 9_223_372_036)))
        #expect(RetryAfter.parse("Tue, 21 Sep 1677 00:12:44 GMT") == .at(FileTime(secondsSince1970: -9_223_372_036)))
    }

    /// Found by `scripts/fuzz RetryAfter`: 1694 minus 2026 overflowed the nanosecond count.
    @Test("Retry-After: a date centuries before or after the clock means no wait, not a crash")
    func dateCenturiesAway() throws {
        let longAgo = try #require(RetryAfter.parse("Sun Nov  6 08:49:37 1694"))
        #expect(longAgo.wait(from: Self.now, longest: Self.day) == .zero)
        let earliest = FileTime(nanosecondsSince1970: .min)
        let latest = FileTime(nanosecondsSince1970: .max)
        #expect(RetryAfter.at(earliest).wait(from: latest, longest: Self.day) == .zero)
        #expect(RetryAfter.at(latest).wait(from: earliest, longest: Self.day) == .zero)
    }

    @Test("Retry-After: delta-seconds too large for an integer is read as very long, then cut to the cap")
    func hugeDelay() throws {
        let parsed = try #require(RetryAfter.parse("99999999999999999999999999"))
        #expect(parsed.wait(from: Self.now, longest: Self.day) == Self.day)
    }

    @Test("Retry-After: a wait is never negative and never longer than the cap, at and around both edges")
    func waitBoundaries() {
        let cap = Self.day
        let oneSecond = Duration.seconds(1)
        #expect(RetryAfter.delay(cap - oneSecond).wait(from: Self.now, longest: cap) == cap - oneSecond)
        #expect(RetryAfter.delay(cap).wait(from: Self.now, longest: cap) == cap)
        #expect(RetryAfter.delay(cap + oneSecond).wait(from: Self.now, longest: cap) == cap)
        #expect(RetryAfter.at(Self.now - oneSecond).wait(from: Self.now, longest: cap) == .zero)
        #expect(RetryAfter.at(Self.now).wait(from: Self.now, longest: cap) == .zero)
        #expect(RetryAfter.at(Self.now + oneSecond).wait(from: Self.now, longest: cap) == oneSecond)
        #expect(RetryAfter.at(Self.now + cap - oneSecond).wait(from: Self.now, longest: cap) == cap - oneSecond)
        #expect(RetryAfter.at(Self.now + cap + oneSecond).wait(from: Self.now, longest: cap) == cap)
    }

    @Test("Retry-After: a two-digit year read more than 50 years ahead is in the past, so no wait")
    func twoDigitYearPivot() throws {
        let ninetyFour = try #require(RetryAfter.parse("Sunday, 06-Nov-94 08:49:37 GMT"))
        #expect(ninetyFour.wait(from: Self.now, longest: Self.day) == .zero)
        let fiftyYears = Duration.seconds(50 * 365 * 86_400)
        #expect(RetryAfter.at(Self.now + fiftyYears).wait(from: Self.now, longest: Self.day) == Self.day)
        #expect(RetryAfter.at(Self.now + fiftyYears + .seconds(1)).wait(from: Self.now, longest: Self.day) == .zero)
    }

    @Test("Retry-After: the classifier keeps the header on a 429 or 503, whichever form it takes")
    func classifierKeepsHeader() {
        let body = Data(#"{"detail": "busy"}"#.utf8)
        for (header, expected) in [("30", RetryAfter.delay(.seconds(30))),
                                   ("Fri, 08 May 2026 10:05:00 GMT", .at(FileTime(secondsSince1970: 1_778_234_700))),
                                   ("later", nil)] as [(String, RetryAfter?)] {
            guard case .failed(let problem) = ImportReplyClassifier.classify(
                status: 429, retryAfterHeader: header, body: body, binaryName: "N844L20G.630H") else {
                Issue.record("a 429 is a failure worth retrying")
                continue
            }
            #expect(problem.retryAfter == expected, "header \(header)")
        }
    }

    @Test("Pause: only a 429 or 503 with a Retry-After still to come pauses the forwarder, cut to a day")
    func pauseDecision() {
        func problem(_ status: Int, _ retryAfter: RetryAfter?) -> UploadProblem {
            UploadProblem(kind: .httpStatus(status), detail: "busy", retryAfter: retryAfter)
        }
        let inTwoMinutes = Self.now + .seconds(120)
        #expect(ServerPause.resumeTime(after: problem(429, .seconds(120)), now: Self.now) == inTwoMinutes)
        #expect(ServerPause.resumeTime(after: problem(503, .at(inTwoMinutes)), now: Self.now) == inTwoMinutes)
        #expect(ServerPause.resumeTime(after: problem(503, .seconds(30 * 86_400)), now: Self.now) == Self.now + Self.day)
        #expect(ServerPause.resumeTime(after: problem(429, nil), now: Self.now) == nil)
        #expect(ServerPause.resumeTime(after: problem(429, .seconds(0)), now: Self.now) == nil)
        #expect(ServerPause.resumeTime(after: problem(503, .at(Self.now)), now: Self.now) == nil)
        #expect(ServerPause.resumeTime(after: problem(500, .seconds(120)), now: Self.now) == nil)
        #expect(ServerPause.resumeTime(after: problem(502, .seconds(120)), now: Self.now) == nil)
        #expect(ServerPause.resumeTime(after: UploadProblem(kind: .timeout, detail: "slow", retryAfter: .seconds(120)),
                                       now: Self.now) == nil)
    }
}
