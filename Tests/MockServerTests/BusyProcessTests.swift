import ForwarderCore
import ForwarderSimulation
import Foundation
import MockSFMServer
import Synchronization
import Testing

/// Threads that keep Swift's cooperative pool busy until released.
private final class PoolHogs: Sendable {
    let running = Atomic<Int>(0)
    let released = Atomic<Bool>(false)

    /// Starts one spinning task per pool thread; spinning keeps each thread runnable, so the
    /// runtime adds none beside them (it does for threads that block).
    func start(count: Int) -> [Task<Void, Never>] {
        (0..<count).map { _ in
            Task.detached {
                self.running.add(1, ordering: .relaxed)
                while !self.released.load(ordering: .relaxed) {}
            }
        }
    }
}

@Suite("Mock SFM on a busy process")
struct BusyProcessTests {
    /// No fault, and a delayed answer: a sleeping handler must wake on the server's threads too.
    static let plans: [FaultPlan] = [.none, FaultPlan(rules: [FaultRule(name: "slow", fault: .delay(.fixed(.milliseconds(200))))])]

    @Test("Socket: the in-process server answers while every thread of the cooperative pool is busy", arguments: plans)
    func answersWhileThePoolIsBusy(_ plan: FaultPlan) async throws {
        try await withMockServer(mock: MockSFM(faultPlan: plan)) { server in
            let request = SocketTests().forwarderRequest()
            let form = MultipartFormBody(request: request)
            let hogs = PoolHogs()
            let poolWidth = ProcessInfo.processInfo.activeProcessorCount
            // The client and the waiting run on a thread of their own: the test's task needs the
            // pool, which the hogs hold until the exchange is over.
            let (result, hogsRunning) = try await onOwnThread {
                let tasks = hogs.start(count: poolWidth)
                while hogs.running.load(ordering: .relaxed) < poolWidth { usleep(1_000) }
                // Bounds only a failure: a server that needs the pool answers nothing until then.
                let result = RawConnection.postBlocking(port: server.port, contentType: form.contentType, body: form.bytes,
                                                        closeAfterReply: true, timeout: .seconds(60))
                let hogsRunning = hogs.running.load(ordering: .relaxed)
                hogs.released.store(true, ordering: .relaxed)
                _ = tasks
                return (result, hogsRunning)
            }
            #expect(hogsRunning == poolWidth, "every pool thread was held during the exchange")
            let reply = String(decoding: result.received, as: UTF8.self)
            #expect(reply.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(reply.prefix(200)), errno \(String(describing: result.readError))")
            #expect(server.mock.eventCount == 1)
        }
    }
}
