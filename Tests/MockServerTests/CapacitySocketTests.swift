import AsyncHTTPClient
import ForwarderCore
import ForwarderSimulation
import Foundation
import MockSFMServer
import Testing

/// The capacity model behind the real socket: waits are real, answers carry real headers.
@Suite("Mock SFM capacity over a socket")
struct CapacitySocketTests {
    func request(_ index: Int) -> ImportRequest {
        Fixtures.forwarderRequest(binaryName: Fixtures.eventName(minute: index % 60), binary: Fixtures.binary(seed: UInt64(index)))
    }

    /// Takes slots in process for `duration` each, as requests the socket never saw.
    func occupy(_ mock: MockSFM, count: Int, for duration: Duration, plan: CapacityPlan) {
        // The slot's time is `serviceMillisecondsPerRequest` plus the per-megabyte time of the
        // byte count chosen to make up `duration`.
        let extraMilliseconds = duration.secondsValue * 1000 - plan.serviceMillisecondsPerRequest
        let byteCount = Int(extraMilliseconds / plan.serviceMillisecondsPerMegabyte * 1_000_000)
        for _ in 0..<count {
            _ = mock.admit(arrivalAt: FileTime(Date()), byteCount: byteCount)
        }
    }

    @Test("Capacity: concurrent uploads to a capacity-2 server queue, never more than 2 in progress, answers after the service")
    func concurrentUploadsQueue() async throws {
        let plan = CapacityPlan(maximumInProgress: 2, serviceMillisecondsPerRequest: 150, serviceMillisecondsPerMegabyte: 1000)
        let mock = MockSFM(configuration: .init(capacity: plan))
        try await withMockServer(mock: mock) { server in
            occupy(mock, count: 2, for: .seconds(2), plan: plan)
            let results = try await withThrowingTaskGroup(of: (name: String, status: Int, elapsed: Duration).self) { group in
                for index in 1...6 {
                    group.addTask {
                        let clock = ContinuousClock()
                        let began = clock.now
                        let reply = try await TestClient.upload(server, request(index))
                        return (request(index).binary.name, reply.status, clock.now - began)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.map(\.status) == Array(repeating: 200, count: 6))

            let stats = try TestClient.decode(MockStats.self, try await TestClient.send(.GET, server.baseURL + "/mock/stats"))
            let capacity = try #require(stats.capacity)
            #expect(capacity.admitted == 8)
            #expect(capacity.refused == 0)
            #expect(capacity.maximumInProgress == 2, "the two occupied slots, and never a third")
            #expect(capacity.seconds.allSatisfy { $0.maximumInProgress <= 2 })
            #expect(capacity.queued >= 1, "uploads sent while both slots are held for 2 s wait")
            #expect(stats.inserted == 6)

            // The journal's slots, swept independently, never overlap more than twice, and no
            // client had its answer before its request's wait and service were over.
            let journal = server.mock.journal()
            #expect(journal.count == 6)
            let intervals = journal.map { entry -> (Int64, Int64) in
                let arrival = entry.receivedAtNanosecondsSince1970
                let start = arrival + Int64(((entry.queueMilliseconds ?? 0) * 1e6).rounded())
                return (start, start + Int64(((entry.serviceMilliseconds ?? 0) * 1e6).rounded()))
            }
            #expect(mostOverlapping(intervals) <= 2)
            #expect(journal.allSatisfy { ($0.serviceMilliseconds ?? 0) >= 150 })
            for entry in journal {
                let name = try #require(entry.files.first?.name)
                let elapsed = try #require(results.first { $0.name == name }?.elapsed)
                let waitAndService = Duration.nanoseconds(Int64((((entry.queueMilliseconds ?? 0) + (entry.serviceMilliseconds ?? 0))
                    * 1e6).rounded()))
                #expect(elapsed >= waitAndService, "\(name) answered after \(elapsed), before its wait and service")
            }
        }
    }

    @Test("Capacity: over capacity with 429 answers at once with Retry-After in seconds, literally")
    func tooManyRequestsWithSeconds() async throws {
        let plan = CapacityPlan(maximumInProgress: 1, serviceMillisecondsPerRequest: 10, serviceMillisecondsPerMegabyte: 1000,
                                overCapacity: .tooManyRequests, retryAfterSeconds: 7)
        let mock = MockSFM(configuration: .init(capacity: plan))
        try await withMockServer(mock: mock) { server in
            occupy(mock, count: 1, for: .seconds(600), plan: plan)
            let reply = try await TestClient.upload(server, request(1))
            #expect(reply.status == 429)
            #expect(reply.headers["Retry-After"] == ["7"])
            #expect(String(decoding: reply.body, as: UTF8.self) == #"{"detail":"over capacity: 1 of 1 in progress"}"#)
            #expect(server.mock.journal().map(\.outcome) == [.refused])
            #expect(server.mock.eventCount == 0)
        }
    }

    @Test("Capacity: a full queue answers 503 with Retry-After as an IMF-fixdate at least the delay ahead")
    func queueFullWithDate() async throws {
        let plan = CapacityPlan(maximumInProgress: 1, serviceMillisecondsPerRequest: 10, serviceMillisecondsPerMegabyte: 1000,
                                overCapacity: .queue, queueLimit: 1, retryAfterSeconds: 7, retryAfterForm: .date)
        let mock = MockSFM(configuration: .init(capacity: plan))
        try await withMockServer(mock: mock) { server in
            occupy(mock, count: 2, for: .seconds(600), plan: plan)
            let reply = try await TestClient.upload(server, request(1))
            #expect(reply.status == 503)
            let header = try #require(reply.headers["Retry-After"].first)
            let shape = #/^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT$/#
            #expect(header.wholeMatch(of: shape) != nil, "Retry-After: \(header)")
            // Read back with Foundation's own parser, independent of the mock's formatter.
            let parser = DateFormatter()
            parser.locale = Locale(identifier: "en_US_POSIX")
            parser.timeZone = TimeZone(identifier: "GMT")
            parser.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
            let retryAt = try #require(parser.date(from: header))
            let refusedAt = try #require(server.mock.journal().last).receivedAtTime.date
            #expect(retryAt.timeIntervalSince(refusedAt) >= 7)
            #expect(retryAt.timeIntervalSince(refusedAt) < 8)
            #expect(server.mock.stats().capacity?.refusedByStatus == ["503": 1])
        }
    }

    @Test("Capacity: PUT /mock/capacity installs a plan, refuses a bad one naming the key, GET shows it")
    func capacityEndpoint() async throws {
        try await withMockServer { server in
            #expect(try await TestClient.send(.GET, server.baseURL + "/mock/capacity").status == 404)
            let bad = try await TestClient.send(.PUT, server.baseURL + "/mock/capacity",
                                                body: Data(#"{"maximumInProgress": 0}"#.utf8))
            #expect(bad.status == 400)
            #expect(String(decoding: bad.body, as: UTF8.self).contains("maximumInProgress is 0"))
            let installed = try await TestClient.send(.PUT, server.baseURL + "/mock/capacity",
                                                      body: Data(#"{"maximumInProgress": 3, "overCapacity": "503"}"#.utf8))
            #expect(installed.status == 200)
            let shown = try TestClient.decode(CapacityPlan.self, try await TestClient.send(.GET, server.baseURL + "/mock/capacity"))
            #expect(shown == CapacityPlan(maximumInProgress: 3, overCapacity: .serviceUnavailable))
            #expect(server.mock.capacityPlan == shown)
        }
    }
}
