import ForwarderCore
import Foundation
import Synchronization

/// Runs a simulated fleet's tasks one job at a time and moves simulated time only when every
/// task waits for it: a discrete-event loop under Swift concurrency.
///
/// Every task of the fleet (each forwarder's loop, its actor, its upload child tasks) prefers
/// this executor, so their jobs queue here and run on the one thread that drives the loop, in
/// the order they became ready. When the queue is empty, every task waits on a timer of the
/// simulated clock (a sleep between passes, an upload's reply at the server's finish time);
/// the loop then jumps the clock to the earliest timer and fires it. Nothing depends on thread
/// scheduling, so one seed gives one run, and a day of 50 forwarders costs only the work done.
public final class FleetScheduler: TaskExecutor, @unchecked Sendable {
    private enum Wake {
        case resume(CheckedContinuation<Void, Never>)
        case action(@Sendable () -> Void)
    }

    private struct Timer {
        var time: FileTime
        /// Ties at one time fire in the order they were set.
        var sequence: Int
        var wake: Wake

        func precedes(_ other: Timer) -> Bool { (time, sequence) < (other.time, other.sequence) }
    }

    private struct State {
        var now: FileTime
        var jobs: [UnownedJob] = []
        var nextJob = 0
        /// A binary min-heap on (time, sequence).
        var timers: [Timer] = []
        var sequence = 0

        mutating func push(_ timer: Timer) {
            timers.append(timer)
            var child = timers.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard timers[child].precedes(timers[parent]) else { break }
                timers.swapAt(child, parent)
                child = parent
            }
        }

        mutating func popEarliest() -> Timer? {
            guard !timers.isEmpty else { return nil }
            timers.swapAt(0, timers.count - 1)
            let earliest = timers.removeLast()
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var smallest = parent
                if left < timers.count, timers[left].precedes(timers[smallest]) { smallest = left }
                if right < timers.count, timers[right].precedes(timers[smallest]) { smallest = right }
                guard smallest != parent else { break }
                timers.swapAt(parent, smallest)
                parent = smallest
            }
            return earliest
        }

        mutating func popJob() -> UnownedJob? {
            guard nextJob < jobs.count else { return nil }
            let job = jobs[nextJob]
            nextJob += 1
            if nextJob == jobs.count {
                jobs.removeAll(keepingCapacity: true)
                nextJob = 0
            }
            return job
        }
    }

    private let state: Mutex<State>
    /// Signalled when a job arrives, for the rare wait on work that left this executor.
    private let arrivals = NSCondition()
    /// How long the loop waits for a job when nothing is queued and no timer is set before it
    /// calls the run stuck.
    public let stallTimeout: Duration

    public init(start: FileTime, stallTimeout: Duration = .seconds(30)) {
        state = Mutex(State(now: start))
        self.stallTimeout = stallTimeout
    }

    /// The simulated time.
    public var now: FileTime { state.withLock { $0.now } }

    public func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        state.withLock { $0.jobs.append(unowned) }
        arrivals.lock()
        arrivals.signal()
        arrivals.unlock()
    }

    /// Suspends the calling task until the simulated clock reaches `time` (at once if it has).
    public func sleep(until time: FileTime) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            state.withLock { state in
                state.sequence += 1
                state.push(Timer(time: max(time, state.now), sequence: state.sequence, wake: .resume(continuation)))
            }
        }
    }

    /// Runs `action` on the loop's thread when the simulated clock reaches `time`, before any
    /// task that wakes at the same time later in the order timers were set.
    public func schedule(at time: FileTime, _ action: @escaping @Sendable () -> Void) {
        state.withLock { state in
            state.sequence += 1
            state.push(Timer(time: max(time, state.now), sequence: state.sequence, wake: .action(action)))
        }
    }

    /// The loop got stuck: no job ran, no timer was set, and `operation` had not returned.
    public struct StalledError: Error, CustomStringConvertible {
        public var simulatedTime: FileTime
        public var description: String {
            "the fleet simulation stalled at \(simulatedTime): every task waits and no timer is set"
        }
    }

    /// Runs `operation` and every task it starts on this executor, on a thread of its own, and
    /// returns what it returns once it has finished.
    public func run<Result: Sendable>(_ operation: @escaping @Sendable () async throws -> Result) async throws -> Result {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Result, any Error>) in
            let thread = Thread { [self] in
                continuation.resume(with: self.drive(operation))
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    private func drive<Result: Sendable>(_ operation: @escaping @Sendable () async throws -> Result)
        -> Swift.Result<Result, any Error> {
        let outcome = LockedBox<Swift.Result<Result, any Error>?>(nil)
        Task(executorPreference: self) {
            let result: Swift.Result<Result, any Error>
            do { result = .success(try await operation()) } catch { result = .failure(error) }
            outcome.value = result
        }
        let executor = asUnownedTaskExecutor()
        while true {
            while let job = state.withLock({ $0.popJob() }) {
                job.runSynchronously(on: executor)
            }
            if let finished = outcome.value { return finished }
            let timer = state.withLock { state -> Timer? in
                guard let timer = state.popEarliest() else { return nil }
                state.now = max(state.now, timer.time)
                return timer
            }
            guard let timer else {
                // Work that left this executor (it should not) gets a moment to come back.
                arrivals.lock()
                let arrived = state.withLock { !$0.jobs.isEmpty }
                    || arrivals.wait(until: Date(timeIntervalSinceNow: stallTimeout.secondsValue))
                arrivals.unlock()
                if !arrived, state.withLock({ $0.jobs.isEmpty }) {
                    return .failure(StalledError(simulatedTime: now))
                }
                continue
            }
            switch timer.wake {
            case .resume(let continuation): continuation.resume()
            case .action(let action): action()
            }
        }
    }
}

/// The forwarder's clock in a fleet simulation: the scheduler's simulated time, and sleeps
/// that wait for it.
public struct FleetClock: ForwarderClock {
    public let scheduler: FleetScheduler

    public init(scheduler: FleetScheduler) { self.scheduler = scheduler }

    public func now() -> FileTime { scheduler.now }

    /// The fleet's wall clock never steps, so its monotonic time is the same time.
    public func monotonicNow() -> MonotonicTime {
        MonotonicTime(nanosecondsSinceOrigin: scheduler.now.nanosecondsSince1970)
    }

    public func sleep(for duration: Duration) async throws {
        try Task.checkCancellation()
        await scheduler.sleep(until: scheduler.now + duration)
    }
}

/// A value shared between tasks and the scheduler's thread, behind a lock.
final class LockedBox<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) { mutex = Mutex(value) }

    var value: Value {
        get { mutex.withLock { $0 } }
        set { mutex.withLock { $0 = newValue } }
    }
}
