import Foundation
import Synchronization

/// Runs the mock server's tasks on threads of its own instead of Swift's cooperative pool.
///
/// The pool has one thread per core, two on the machines the tests run on. A test process
/// runs hundreds of tests at once, and the CPU-bound ones (simulated worlds, fleets, scans of
/// a hundred thousand files) can keep both threads busy for minutes; a server whose handlers
/// wait for the pool then answers nothing, and socket tests fail on what they did not test.
/// Dispatch queues do not help: a concurrent queue shares the pool's threads. So the server
/// gets its own threads, one per core, started on first use and kept for the process's life.
/// Each connection's handler moves on to its event loop (`EventLoopBoundChannel`), which is not
/// the pool either; the service group and the listener stay here.
final class ServerExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    /// Guarded by `condition`.
    private var jobs: [UnownedJob] = []
    private var nextJob = 0

    private init(threadCount: Int) {
        for index in 0..<threadCount {
            let thread = Thread { [unowned self] in self.work() }
            thread.name = "mock-sfm-\(index)"
            thread.start()
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func work() {
        let executor = asUnownedTaskExecutor()
        while true {
            condition.lock()
            while nextJob == jobs.count { condition.wait() }
            let job = jobs[nextJob]
            nextJob += 1
            if nextJob == jobs.count {
                jobs.removeAll(keepingCapacity: true)
                nextJob = 0
            }
            condition.unlock()
            job.runSynchronously(on: executor)
        }
    }

    /// The one executor every mock server of this process runs on.
    static let shared = ServerExecutor(threadCount: max(2, ProcessInfo.processInfo.activeProcessorCount))
}

extension ServerExecutor {
    /// Waits `duration` and wakes on the server's threads; cancellation ends it early, throwing.
    ///
    /// `Task.sleep` wakes a task on the cooperative pool whatever its executor preference, so a
    /// slow answer or a capacity wait would again depend on the pool being free. The timer runs
    /// on a serial Dispatch queue, which (unlike a concurrent one) gets a thread of its own.
    static func sleep(for duration: Duration) async throws {
        guard duration > .zero else { return }
        let alarm = Alarm()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                alarm.arm(continuation)
                timers.asyncAfter(deadline: .now() + .nanoseconds(Int(duration.wholeNanoseconds))) { alarm.ring(nil) }
            }
        } onCancel: {
            alarm.ring(CancellationError())
        }
    }

    private static let timers = DispatchQueue(label: "mock-sfm.timers")
}

/// One sleeper's continuation, resumed once by whichever comes first: the timer or a cancel.
private final class Alarm: Sendable {
    private enum State {
        case waiting
        case armed(CheckedContinuation<Void, any Error>)
        case rung((any Error)?)
    }

    private let state = Mutex<State>(.waiting)

    func arm(_ continuation: CheckedContinuation<Void, any Error>) {
        let early: (any Error)?? = state.withLock { state in
            if case .rung(let error) = state { return .some(error) }
            state = .armed(continuation)
            return .none
        }
        if let early { resume(continuation, with: early) }
    }

    func ring(_ error: (any Error)?) {
        let continuation: CheckedContinuation<Void, any Error>? = state.withLock { state in
            switch state {
            case .waiting:
                state = .rung(error)
                return nil
            case .armed(let continuation):
                state = .rung(error)
                return continuation
            case .rung:
                return nil
            }
        }
        if let continuation { resume(continuation, with: error) }
    }

    private func resume(_ continuation: CheckedContinuation<Void, any Error>, with error: (any Error)?) {
        if let error { continuation.resume(throwing: error) } else { continuation.resume() }
    }
}
