import ForwarderCore
import ForwarderSimulation
import Foundation
import Synchronization

/// Writes a live schedule into a real folder as time passes, with long quiet gaps shortened.
///
/// ACH traffic comes in bursts (a call-in downloads several events) separated by hours of
/// nothing; a demo or test wants the bursts at their real pace, scaled by `speed`, without
/// waiting through the hours between them. Each write happens at real time, so modification
/// times are what the forwarder's quiescence rules see on a real PC.
public struct LiveTailWriter: Sendable {
    public let directoryPath: String
    public let speed: Double
    /// Simulated quiet longer than this between two writes is cut to this.
    public let maximumQuietGap: Duration

    public init(directoryPath: String, speed: Double, maximumQuietGap: Duration = .seconds(30)) {
        self.directoryPath = directoryPath
        self.speed = speed
        self.maximumQuietGap = maximumQuietGap
    }

    /// Carries out `schedule`, its first write at `start` (at once when nil); returns the
    /// number of files created. Cancelling the task stops it between two writes, throwing
    /// `CancellationError`.
    ///
    /// The writes run on a thread of their own: on the cooperative pool, beside CPU-bound tests
    /// holding both of its threads, a write waited seconds for a thread, so the files appeared
    /// later than the manifest says and the forwarders were judged for the harness's delay
    /// (docs/DECISIONS.md, "The live fleet on a loaded machine").
    public func write(_ schedule: LiveWriteSchedule, startingAt start: ContinuousClock.Instant? = nil) async throws -> Int {
        let cancelled = CancelFlag()
        return try await withTaskCancellationHandler {
            try await ForwarderProcess.onOwnThread {
                Result { try writeOnThisThread(schedule, startingAt: start, cancelled: cancelled) }
            }.get()
        } onCancel: {
            cancelled.raised.store(true, ordering: .relaxed)
        }
    }

    private func writeOnThisThread(_ schedule: LiveWriteSchedule, startingAt start: ContinuousClock.Instant?,
                                   cancelled: CancelFlag) throws -> Int {
        let clock = ContinuousClock()
        var wallTarget = start ?? clock.now
        var previousTime: FileTime?
        var created = 0
        for operation in schedule {
            if let previousTime {
                let gap = min(max(operation.time - previousTime, .zero), maximumQuietGap)
                wallTarget = wallTarget.advanced(by: gap / speed)
            }
            while clock.now < wallTarget {
                if cancelled.raised.load(ordering: .relaxed) { throw CancellationError() }
                let remaining = clock.now.duration(to: wallTarget)
                Thread.sleep(forTimeInterval: min(remaining, Self.cancellationCheckInterval).secondsValue)
            }
            if cancelled.raised.load(ordering: .relaxed) { throw CancellationError() }
            previousTime = operation.time
            let path = (directoryPath as NSString).appendingPathComponent(operation.name)
            switch operation.action {
            case .createDirectory:
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            case .create(let bytes):
                try bytes.write(to: URL(fileURLWithPath: path))
                created += 1
            case .append(let bytes):
                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
                try handle.seekToEnd()
                try handle.write(contentsOf: bytes)
                try handle.close()
            case .finish:
                break
            }
        }
        return created
    }

    /// A waiting writer looks for a cancel this often.
    private static let cancellationCheckInterval: Duration = .milliseconds(50)
}

/// A cancel seen from a thread outside Swift concurrency.
private final class CancelFlag: Sendable {
    let raised = Atomic<Bool>(false)
}
