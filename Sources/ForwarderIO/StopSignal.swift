import Synchronization

/// A one-way "please stop" that passes and sleeps can wait on, set from a signal handler.
public final class StopSignal: Sendable {
    private let state = Mutex<(requested: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    public init() {}

    public var isRequested: Bool { state.withLock { $0.requested } }

    /// Sets the signal and wakes everything waiting on it; later calls do nothing.
    public func request() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard !state.requested else { return [] }
            state.requested = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once the signal is set.
    public func wait() async {
        await withCheckedContinuation { continuation in
            let alreadyRequested = state.withLock { state -> Bool in
                if state.requested { return true }
                state.waiters.append(continuation)
                return false
            }
            if alreadyRequested { continuation.resume() }
        }
    }
}
